"""The sandbox's HTTP side: requests in, the request log, faults, Basic auth, answers out."""

import json
import socket
import struct
import time
from base64 import b64decode
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import SplitResult, parse_qs, urlsplit

from cdp_sandbox.store import SandboxConfig, SandboxError, error_body

# The methods that carry a JSON body to the API.
_WRITES = ("POST", "PUT", "PATCH")


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict
    headers: dict
    body: object
    status: int = 0


def _bytes_as_text(value: object) -> str:
    """Show a fault's bytes `body` in the control endpoints' JSON."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    # `sandbox` is the cdp_sandbox.server.Sandbox it serves (not imported: that module imports
    # this one).
    def __init__(self, address: tuple[str, int], handler: type, sandbox: Any) -> None:
        self.sandbox = sandbox
        super().__init__(address, handler)


class SandboxRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the app's pooled connections are exercised
    server_version = "CDPSandbox/1.0"
    # Headers and body go out as separate writes; with Nagle's algorithm on, the body waits for
    # the client's delayed ACK of the headers, some 40 ms per answer.
    disable_nagle_algorithm = True
    server: SandboxHTTPServer

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log replaces stderr noise

    def _serve(self, method: str) -> None:
        sandbox = self.server.sandbox
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
            body_ok = True
        except ValueError:
            body, body_ok = raw.decode("utf-8", "replace"), False
        if split.path.startswith("/_sandbox/"):
            try:
                status, payload = sandbox.control(method, split.path, body)
            except (SandboxError, TypeError) as exc:
                status, payload = (
                    getattr(exc, "status", 400),
                    error_body(getattr(exc, "status", 400), str(exc)),
                )
            self._send(status, payload)
            return
        # Counted, so tests and benchmarks can check how many calls the app makes at once.
        with sandbox.lock:
            sandbox.in_flight += 1
            sandbox.max_in_flight = max(sandbox.max_in_flight, sandbox.in_flight)
        try:
            self._serve_api(sandbox, method, split, query, body, body_ok)
        finally:
            with sandbox.lock:
                sandbox.in_flight -= 1

    def _serve_api(
        self,
        sandbox: Any,
        method: str,
        split: SplitResult,
        query: dict,
        body: object,
        body_ok: bool,
    ) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        record = RecordedRequest(method, split.path, query, headers, body)
        with sandbox.lock:
            sandbox.requests.append(record)
            generation = sandbox.generation
        fault = sandbox.faults.take(method, split.path)
        if fault and fault.latency:
            time.sleep(fault.latency)
        if fault and fault.change:
            sandbox._change_behind_the_apps_back(split.path, fault.change, generation)
        if (fault and fault.reset) or generation != sandbox.generation:
            record.status = -1
            self._reset()
            return
        if fault and fault.malformed:
            record.status = 200
            self._send_raw(200, b'{"href": "http://truncated', "application/json")
            return
        if fault and fault.truncated:
            record.status = 200
            self._send_raw(200, b'{"ref": "cut', "application/json", promised=4096)
            self.close_connection = True
            return
        if fault and fault.body is not None:
            record.status = fault.status or 200
            data = fault.body
            if isinstance(data, str):
                data = data.encode("utf-8", "surrogatepass")
            self._send_raw(record.status, data, "application/json")
            return
        if fault and fault.status:
            record.status = fault.status
            extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            self._send(fault.status, error_body(fault.status, "Injected fault."), extra)
            return

        if not self._authorized(sandbox.config):
            status, payload = 401, error_body(401, "")
        elif method in _WRITES and "application/json" not in self.headers.get("Content-Type", ""):
            status, payload = 415, error_body(415, "Content type must be application/json.")
        elif method in _WRITES and not body_ok:
            status, payload = 400, error_body(400, "The request body is not valid JSON.")
        else:
            try:
                status, payload = sandbox.handle(method, split.path, query, body)
            except SandboxError as exc:
                status, payload = exc.status, error_body(exc.status, exc.message)
        record.status = status
        if sandbox.log_requests:
            sandbox.log(record)
        if payload is None:
            self._send_raw(status, b"", "application/json")
        else:
            self._send(status, payload)

    def _authorized(self, config: SandboxConfig) -> bool:
        scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = b64decode(encoded).decode("utf-8").partition(":")
        except ValueError:
            return False
        return (user, password) == (config.client_key, config.api_token)

    def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload, default=_bytes_as_text).encode("utf-8")
        self._send_raw(status, data, "application/json", headers=headers)

    def _send_raw(
        self,
        status: int,
        data: bytes,
        content_type: str,
        *,
        promised: int | None = None,
        headers: dict | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(promised or len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send a TCP RST instead of a clean FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()
