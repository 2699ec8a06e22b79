"""A local stand-in for Sitecore CDP's REST API v2, over real HTTP on loopback.

`Sandbox` puts together the simulated CDP's data and semantics (`cdp_sandbox.store`), the faults
it can inject (`cdp_sandbox.faults`) and its HTTP server with the request log
(`cdp_sandbox.handler`), and serves the control endpoints under `/_sandbox/` that tests and
people use to reset it, inject faults, change records behind the app's back and read the log.
"""

import copy
import json
import re
import threading
from collections import deque
from dataclasses import asdict
from urllib.parse import unquote

from cdp_sandbox.faults import Fault, Faults
from cdp_sandbox.handler import RecordedRequest, SandboxHTTPServer, SandboxRequestHandler
from cdp_sandbox.seed import SeedData
from cdp_sandbox.store import (
    SandboxConfig,
    SandboxError,
    Store,
    check_changes,
    error_body,
)

# What tests and scripts import from here.
__all__ = ["Fault", "RecordedRequest", "Sandbox", "SandboxConfig", "SandboxError", "error_body"]


class Sandbox:
    """The simulated CDP: its data, configuration, faults and request log, and its HTTP server."""

    def __init__(self, config: SandboxConfig | None = None, *, random_seed: int = 2026):
        self._initial_config = copy.copy(config or SandboxConfig())
        self.lock = threading.RLock()
        self.store = Store(copy.copy(self._initial_config), self.lock)
        self.faults = Faults(self.lock, random_seed=random_seed)
        self.requests: deque[RecordedRequest] = deque(maxlen=10_000)
        # Bumped by reset(), so a slow request begun before a reset cannot touch the new data.
        self.generation = 0
        # API requests being answered now, and the most at any one time since the last reset.
        self.in_flight = 0
        self.max_in_flight = 0
        self.base_url = ""
        # Print each API call (method, path, status, body) as it is answered (`--log-requests`).
        self.log_requests = False
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def config(self) -> SandboxConfig:
        return self.store.config

    @property
    def data(self) -> SeedData:
        return self.store.data

    # --- running -------------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a background thread; return the base URL (port 0 picks a free port)."""
        self._server = SandboxHTTPServer((host, port), SandboxRequestHandler, self)
        bound_host, bound_port = self._server.socket.getsockname()[:2]
        self.base_url = self.store.base_url = f"http://{bound_host}:{bound_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # --- controls for tests and the control endpoints -------------------------------------------

    def reset(self) -> None:
        """Restore the seed data, the starting configuration, no faults and an empty log."""
        with self.lock:
            self.store.reset()
            self.store.config = copy.copy(self._initial_config)
            self.generation += 1
            self.max_in_flight = 0
            self.faults.reset()
            self.requests.clear()

    def inject(self, fault: Fault) -> Fault:
        return self.faults.inject(fault)

    def clear_faults(self) -> None:
        self.faults.clear()

    def change_consumer(self, ref: str, **changes: object) -> dict:
        """Change a consumer as another CDP user would (see `Store.change_consumer`)."""
        return self.store.change_consumer(ref, **changes)

    def consumer(self, ref: str, version: str = "v2") -> dict:
        """Return a consumer as the API would render it (in `version`)."""
        return self.store.consumer(ref, version)

    def log(self, request: RecordedRequest) -> None:
        """Print one API call: method, path and query, status, and the body it carried."""
        query = "&".join(f"{k}={v}" for k, v in request.query.items())
        shown = f"{request.path}?{query}" if query else request.path
        body = "" if request.body is None else " " + json.dumps(request.body, default=str)
        print(f"CDP sandbox: {request.method} {shown} -> {request.status}{body}", flush=True)

    def handle(self, method: str, path: str, query: dict, body: object) -> tuple[int, dict | None]:
        """Answer an authenticated API request (see `Store.handle`)."""
        return self.store.handle(method, path, query, body)

    def _change_behind_the_apps_back(self, path: str, changes: dict, generation: int) -> None:
        """Apply a fault's `change` to the consumer a request is for, if it is for one."""
        match = re.fullmatch(r"/v2(?:\.1)?/orderConsumers/([^/]+)", path)
        with self.lock:
            # A request begun before a reset must not touch the fresh seed data.
            if match and generation == self.generation and unquote(match[1]) in self.data.consumers:
                self.change_consumer(unquote(match[1]), **changes)

    def requests_to(self, method: str, path_pattern: str) -> list[RecordedRequest]:
        with self.lock:
            return [
                r
                for r in self.requests
                if r.method == method and re.fullmatch(path_pattern, r.path)
            ]

    def control(self, method: str, path: str, body: object) -> tuple[int, dict]:
        """Serve the sandbox's own control endpoints under /_sandbox/."""
        if path == "/_sandbox/reset" and method == "POST":
            self.reset()
            return 200, {"reset": True}
        if path == "/_sandbox/faults" and method == "POST":
            try:
                fault = Fault.from_dict(body if body is not None else {})
            except (TypeError, ValueError) as exc:
                raise SandboxError(400, f"Not a fault: {exc}.") from None
            return 201, asdict(self.inject(fault))
        consumer = re.fullmatch(r"/_sandbox/consumers/([^/]+)", path)
        if consumer and method in ("GET", "POST"):
            ref = unquote(consumer[1])
            with self.lock:
                if ref not in self.data.consumers:
                    raise SandboxError(404, f"No order consumer found with ref {ref}.")
                if method == "GET":
                    return 200, self.consumer(ref)
                if not isinstance(body, dict) or not body:
                    raise SandboxError(400, "The body must be a JSON object of attribute changes.")
                try:
                    check_changes(body)
                except ValueError as exc:
                    raise SandboxError(400, f"{exc}.") from None
                return 200, self.change_consumer(ref, **body)
        if path == "/_sandbox/faults" and method == "DELETE":
            self.clear_faults()
            return 200, {"faults": []}
        if path == "/_sandbox/faults" and method == "GET":
            with self.lock:
                return 200, {"faults": [asdict(f) for f in self.faults.items]}
        if path == "/_sandbox/requests" and method == "GET":
            with self.lock:
                return 200, {"requests": [asdict(r) for r in self.requests]}
        if path == "/_sandbox/config" and method == "POST":
            if body is not None and not isinstance(body, dict):
                raise SandboxError(400, "The body must be a JSON object of settings.")
            with self.lock:
                for key, value in (body or {}).items():
                    if not hasattr(self.config, key):
                        raise SandboxError(400, f"Unknown setting {key}.")
                    setattr(self.config, key, value)
                return 200, asdict(self.config)
        raise SandboxError(404, f"No control endpoint at {method} {path}.")
