"""A local stand-in for Sitecore CDP's REST API v2, over real HTTP on loopback.

It answers the documented order-consumer, order, order-item and guest endpoints with the
documented shapes (absolute `{"href": ...}` links, `offset`/`limit` collections, ISO 8601 UTC
timestamps), Basic authentication and error bodies, and v2's full-replace update. It also records
every request and can inject faults, so tests can watch what the app sends and how it copes.
Facts and inferences are in `../shared/cdp-api.md`; inferred behaviour is a `SandboxConfig` option.
"""

import copy
import json
import random
import re
import socket
import struct
import threading
import time
from base64 import b64decode
from collections import deque
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

from cdp_sandbox import seed

MORE_INFO_URL = "https://support.sitecore.com"
UNAUTHORIZED_MESSAGE = (
    "Authentication credentials are required to access the resource. "
    "All requests must be authenticated."
)
GENDERS = ("male", "female", "unknown")
TITLES = [
    "Br",
    "Brigadier",
    "Capt",
    "Colonel",
    "Dame",
    "Dr",
    "Elder",
    "Fr",
    "General",
    "Hon",
    "Judge",
    "Lord",
    "Master",
    "Miss",
    "Mr",
    "Mrs",
    "Ms",
    "Mstr",
    "Prof",
    "Rabbi",
    "Rev",
    "Shaikha",
    "Sheikh",
    "Sir",
    "Sister",
    "Sr",
]
# Attributes CDP sets itself; a value sent for them in an update is ignored.
READ_ONLY = ("href", "ref", "createdAt", "modifiedAt", "order")


@dataclass
class SandboxConfig:
    client_key: str = "sandbox-client-key"
    api_token: str = "sandbox-api-token"
    # The docs give 201 for create/update on the response-codes page (INFERRED for CDP).
    update_status: int = 201
    # The documented collection limits: default 10, at most 100.
    default_page_limit: int = 10
    max_page_limit: int = 100
    # Undocumented in CDP: whether a title outside the documented list is refused.
    strict_titles: bool = False
    # Undocumented in CDP: no field-length limits were found; None means no limit.
    max_string_length: int | None = None
    # Undocumented in CDP: whether an update may link a guest or order item that does not exist.
    check_links: bool = True
    # Undocumented in CDP: whether the guest search's names must match in case too.
    case_sensitive_guest_search: bool = False


@dataclass
class Fault:
    """Something to do instead of, or on top of, the normal answer to matching requests."""

    method: str = "*"  # "GET", "POST" or "*"
    # A regular expression matched against the whole path, e.g. "/v2/orderConsumers/.*".
    path: str = ".*"
    # Seconds to wait before answering. The request is then handled as usual, so an update the
    # client gave up waiting for is still applied, as it may be in CDP.
    latency: float = 0.0
    status: int | None = None  # answer this status with a CDP-shaped error body
    # Sent as Retry-After with the status: seconds, or a string as it is (e.g. an HTTP-date).
    retry_after: int | str | None = None
    reset: bool = False  # drop the connection without answering
    malformed: bool = False  # answer 200 with a body that is not JSON
    truncated: bool = False  # promise a longer body than is sent, then close
    # Attribute changes made to the consumer at /v2/orderConsumers/<ref> before answering, as
    # another CDP user would make them (see Sandbox.change_consumer).
    change: dict | None = None
    # Answer exactly this body (text is sent as UTF-8, bytes as they are) as application/json,
    # with `status` or 200, instead of handling the request: any shape, JSON or not.
    body: str | bytes | None = None
    times: int | None = 1  # how many matching requests it applies to; None for all
    fraction: float = 1.0  # the share of matching requests it applies to (seeded random)

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and re.fullmatch(self.path, path) is not None

    @classmethod
    def from_dict(cls, data) -> "Fault":
        """Build a fault from JSON (the control endpoint, `--fault`); raise ValueError if wrong."""
        if not isinstance(data, dict):
            raise ValueError("a fault must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown fault field {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        fault = cls(**data)
        fault._check()
        return fault

    def _check(self) -> None:
        def number(value) -> bool:
            return isinstance(value, int | float) and not isinstance(value, bool)

        def whole(value) -> bool:
            return isinstance(value, int) and not isinstance(value, bool)

        if self.method not in ("*", "GET", "POST", "PUT", "DELETE"):
            raise ValueError("method: must be GET, POST, PUT, DELETE or *")
        if not isinstance(self.path, str):
            raise ValueError("path: must be a regular expression")
        try:
            re.compile(self.path)
        except re.error as exc:
            raise ValueError(f"path: not a valid regular expression ({exc})") from None
        if not number(self.latency) or self.latency < 0:
            raise ValueError("latency: must be a number of seconds, 0 or more")
        if self.status is not None and not (whole(self.status) and 100 <= self.status <= 599):
            raise ValueError("status: must be an HTTP status from 100 to 599, or null")
        if self.retry_after is not None and not (
            (whole(self.retry_after) and self.retry_after >= 0) or isinstance(self.retry_after, str)
        ):
            raise ValueError("retry_after: must be seconds (0 or more), an HTTP-date, or null")
        for name in ("reset", "malformed", "truncated"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}: must be true or false")
        if self.body is not None and not isinstance(self.body, str | bytes):
            raise ValueError("body: must be text (sent as it is), or null")
        if self.change is not None:
            if not isinstance(self.change, dict):
                raise ValueError("change: must be an object of attribute changes, or null")
            _check_changes(self.change)
        if self.times is not None and not (whole(self.times) and self.times >= 1):
            raise ValueError("times: must be 1 or more, or null for every matching request")
        if not number(self.fraction) or not 0 < self.fraction <= 1:
            raise ValueError("fraction: must be more than 0 and at most 1")


def _check_changes(changes: dict) -> None:
    """Refuse changes to what CDP owns itself (a record's ref, links, timestamps) or bad links."""
    owned = sorted(set(changes) & set(READ_ONLY))
    if owned:
        raise ValueError(f"change: CDP sets {', '.join(owned)} itself")
    _stored(changes)


def _stored(changes: dict) -> dict:
    """Return attribute changes as the sandbox stores them: links become refs."""
    stored = {}
    for name, value in changes.items():
        if name == "guest" and isinstance(value, dict):
            value = _ref_of(value)
        elif name == "orderItems" and isinstance(value, dict):
            items = value.get("items")
            if not isinstance(items, list):
                raise ValueError('orderItems: must be {"items": [links]} or a list of refs')
            value = [_ref_of(item) for item in items]
        stored[name] = copy.deepcopy(value)
    return stored


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict
    headers: dict
    body: object
    status: int = 0


class SandboxError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _later_than(previous: str) -> str:
    """Return now, or a millisecond after `previous` if the clock has not moved past it."""
    now = _now()
    if now > previous:
        return now
    moment = datetime.fromisoformat(previous.replace("Z", "+00:00")) + timedelta(milliseconds=1)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Sandbox:
    """The simulated CDP: its data, configuration, faults and request log, and its HTTP server."""

    def __init__(self, config: SandboxConfig | None = None, *, random_seed: int = 2026):
        self.config = config or SandboxConfig()
        self._initial_config = copy.copy(self.config)
        self.lock = threading.RLock()
        self.faults: list[Fault] = []
        self.requests: deque[RecordedRequest] = deque(maxlen=10_000)
        self._random = random.Random(random_seed)
        self._random_seed = random_seed
        self.data = seed.build()
        # Bumped by reset(), so a slow request begun before a reset cannot touch the new data.
        self.generation = 0
        # API requests being answered now, and the most at any one time since the last reset.
        self.in_flight = 0
        self.max_in_flight = 0
        self.base_url = ""
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- running -------------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a background thread; return the base URL (port 0 picks a free port)."""
        self._server = _Server((host, port), _Handler, self)
        bound_host, bound_port = self._server.server_address[:2]
        self.base_url = f"http://{bound_host}:{bound_port}"
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
            self.data = seed.build()
            self.generation += 1
            self.max_in_flight = 0
            self.faults.clear()
            self.requests.clear()
            self._random = random.Random(self._random_seed)
            self.config = copy.copy(self._initial_config)

    def inject(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def change_consumer(self, ref: str, **changes) -> dict:
        """Change a consumer as another CDP user would, advancing its `modifiedAt`.

        A value of None removes the attribute. `guest` and `orderItems` take refs, or the link
        objects the API renders.
        """
        _check_changes(changes)
        changes = _stored(changes)
        with self.lock:
            record = self.data.consumers[ref]
            for name, value in changes.items():
                if value is None:
                    record.pop(name, None)
                else:
                    record[name] = value
            record["modifiedAt"] = _later_than(record["modifiedAt"])
            return self._render_consumer(record)

    def _change_behind_the_apps_back(self, path: str, changes: dict, generation: int) -> None:
        """Apply a fault's `change` to the consumer a request is for, if it is for one."""
        match = re.fullmatch(r"/v2/orderConsumers/([^/]+)", path)
        with self.lock:
            # A request begun before a reset must not touch the fresh seed data.
            if match and generation == self.generation and unquote(match[1]) in self.data.consumers:
                self.change_consumer(unquote(match[1]), **changes)

    def consumer(self, ref: str) -> dict:
        """Return a consumer as the API would render it."""
        with self.lock:
            return self._render_consumer(self.data.consumers[ref])

    def requests_to(self, method: str, path_pattern: str) -> list[RecordedRequest]:
        with self.lock:
            return [
                r
                for r in self.requests
                if r.method == method and re.fullmatch(path_pattern, r.path)
            ]

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if not fault.matches(method, path):
                    continue
                if fault.fraction < 1.0 and self._random.random() >= fault.fraction:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                return fault
        return None

    # --- rendering ------------------------------------------------------------------------------

    def _link(self, collection: str, ref: str) -> dict:
        return {"href": f"{self.base_url}/v2/{collection}/{quote(ref, safe='')}"}

    def _render_consumer(self, record: dict) -> dict:
        body = {"href": self._link("orderConsumers", record["ref"])["href"]}
        for key, value in record.items():
            if key == "guest":
                body["guest"] = self._link("guests", value)
            elif key == "orderItems":
                body["orderItems"] = {"items": [self._link("orderItems", ref) for ref in value]}
            elif key == "order":
                body["order"] = self._link("orders", value)
            else:
                body[key] = copy.deepcopy(value)
        return body

    def _render_plain(self, collection: str, record: dict) -> dict:
        body = {"href": self._link(collection, record["ref"])["href"]}
        body.update(copy.deepcopy({k: v for k, v in record.items() if k != "order"}))
        if "order" in record:
            body["order"] = self._link("orders", record["order"])
        return body

    def _render_order(self, record: dict, expand_items: bool) -> dict:
        body = self._render_plain("orders", record)
        ref = record["ref"]
        body["consumers"] = {"href": f"{self.base_url}/v2/orders/{ref}/consumers"}
        body["contacts"] = {"href": f"{self.base_url}/v2/orders/{ref}/contacts"}
        if expand_items:
            items = [self._render_plain("orderItems", i) for i in self._items_of(ref)]
            body["orderItems"] = {
                "href": f"{self.base_url}/v2/orders/{ref}/orderItems?offset=0&limit={len(items)}",
                "offset": 0,
                "limit": len(items),
                "items": items,
            }
        else:
            body["orderItems"] = {"href": f"{self.base_url}/v2/orders/{ref}/orderItems"}
        return body

    def _collection(self, path: str, query: dict, links: list[dict]) -> dict:
        offset = _int_param(query, "offset", 0, minimum=0)
        limit = _int_param(query, "limit", self.config.default_page_limit, minimum=1)
        if limit > 100:
            raise SandboxError(400, "limit: must be less than or equal to 100.")
        limit = min(limit, self.config.max_page_limit)
        extra = "".join(
            f"{k}={quote(v)}&" for k, v in query.items() if k not in ("offset", "limit")
        )
        return {
            "href": f"{self.base_url}{path}?{extra}offset={offset}&limit={limit}",
            "offset": offset,
            "limit": limit,
            "items": links[offset : offset + limit],
        }

    def _items_of(self, order_ref: str) -> list[dict]:
        return [i for i in self.data.order_items.values() if i["order"] == order_ref]

    # --- the API ---------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict, body) -> tuple[int, dict]:
        """Answer an authenticated API request: return (status, JSON body) or raise SandboxError."""
        with self.lock:
            parts = [unquote(p) for p in path.strip("/").split("/")]
            if len(parts) < 2 or parts[0] != "v2":
                raise SandboxError(404, f"No resource at {path}.")
            route = parts[1:]
            if route[0] == "orderConsumers" and len(route) == 2:
                record = self._find(self.data.consumers, route[1], "order consumer")
                if method == "GET":
                    return 200, self._render_consumer(record)
                if method == "POST":
                    return self.config.update_status, self._update_consumer(record, body)
            elif route[0] == "orders" and len(route) == 1 and method == "GET":
                return 200, self._find_orders(path, query)
            elif route[0] == "orders" and method == "GET":
                order = self._find(self.data.orders, route[1], "order")
                if len(route) == 2:
                    return 200, self._render_order(order, query.get("expand") == "orderItems")
                if route[2:] == ["consumers"]:
                    refs = [
                        c["ref"] for c in self.data.consumers.values() if c["order"] == order["ref"]
                    ]
                    links = [self._link("orderConsumers", ref) for ref in refs]
                    return 200, self._collection(path, query, links)
                if route[2:] == ["orderItems"]:
                    links = [
                        self._link("orderItems", i["ref"]) for i in self._items_of(order["ref"])
                    ]
                    return 200, self._collection(path, query, links)
            elif route[0] == "guests" and len(route) == 1 and method == "GET":
                return 200, self._find_guests(path, query)
            elif route[0] == "guests" and len(route) == 2 and method == "GET":
                return 200, self._render_plain(
                    "guests", self._find(self.data.guests, route[1], "guest")
                )
            elif route[0] == "orderItems" and len(route) == 2 and method == "GET":
                item = self._find(self.data.order_items, route[1], "order item")
                return 200, self._render_plain("orderItems", item)
            raise SandboxError(404, f"No resource at {method} {path}.")

    def _find(self, table: dict, ref: str, kind: str) -> dict:
        if ref not in table:
            raise SandboxError(404, f"No {kind} found with ref {ref}.")
        return table[ref]

    def _find_orders(self, path: str, query: dict) -> dict:
        if "referenceId" in query:
            found = [
                o for o in self.data.orders.values() if o["referenceId"] == query["referenceId"]
            ]
        elif "guestRef" in query:
            orders = {
                c["order"]
                for c in self.data.consumers.values()
                if c.get("guest") == query["guestRef"]
            }
            found = [o for o in self.data.orders.values() if o["ref"] in orders]
        else:
            raise SandboxError(400, "referenceId or guestRef: one of them is required.")
        return self._collection(path, query, [self._link("orders", o["ref"]) for o in found])

    # Guest search parameters and the guest attribute each one matches. The docs list the
    # parameters, not how they match: the sandbox compares whole values, ignoring case unless
    # `case_sensitive_guest_search` (e-mail addresses always ignore case).
    GUEST_SEARCH = {"firstName": "firstName", "lastName": "lastName", "email": "emails",
                    "phoneNumber": "phoneNumbers"}  # fmt: skip

    def _find_guests(self, path: str, query: dict) -> dict:
        def fold(name: str, value) -> str:
            exact = self.config.case_sensitive_guest_search and name != "email"
            return str(value) if exact else str(value).casefold()

        asked = {name: fold(name, query[name]) for name in self.GUEST_SEARCH if name in query}
        if not asked:
            raise SandboxError(400, f"{', '.join(self.GUEST_SEARCH)}: one of them is required.")

        def matches(guest: dict) -> bool:
            for name, wanted in asked.items():
                value = guest.get(self.GUEST_SEARCH[name])
                values = value if isinstance(value, list) else [value]
                if wanted not in {fold(name, v) for v in values if v is not None}:
                    return False
            return True

        found = [g["ref"] for g in self.data.guests.values() if matches(g)]
        return self._collection(path, query, [self._link("guests", ref) for ref in found])

    def _update_consumer(self, record: dict, body) -> dict:
        """Replace the whole consumer with `body` (v2: an attribute left out is gone afterwards)."""
        if not isinstance(body, dict):
            raise SandboxError(400, "The request body must be a JSON object.")
        new = {k: copy.deepcopy(v) for k, v in body.items() if k not in READ_ONLY}
        for name in ("firstName", "lastName"):
            if new.get(name) is None:
                raise SandboxError(400, f"{name}: may not be null.")
        limit = self.config.max_string_length
        for name, value in new.items():
            if isinstance(value, str) and limit is not None and len(value) > limit:
                raise SandboxError(400, f"{name}: size must be between 0 and {limit}.")
        for name in (
            "title",
            "firstName",
            "lastName",
            "gender",
            "nationality",
            "country",
            "passportNumber",
            "dateOfBirth",
            "passportExpiry",
        ):
            if name in new and not isinstance(new[name], str):
                raise SandboxError(400, f"{name}: must be a string.")
        if "gender" in new and new["gender"] not in GENDERS:
            raise SandboxError(400, "gender: must be one of male, female, unknown.")
        if self.config.strict_titles and "title" in new and new["title"] not in TITLES:
            raise SandboxError(400, f"title: {new['title']} is not a valid title.")
        for name in ("emails", "phoneNumbers"):
            if name in new and not (
                isinstance(new[name], list) and all(isinstance(v, str) for v in new[name])
            ):
                raise SandboxError(400, f"{name}: must be an array of strings.")
        if "guest" in new:
            new["guest"] = self._linked_ref(new["guest"], "guests", self.data.guests, "guest")
        if "orderItems" in new:
            items = new["orderItems"].get("items") if isinstance(new["orderItems"], dict) else None
            if not isinstance(items, list):
                raise SandboxError(400, "orderItems: must hold a list of items.")
            new["orderItems"] = [
                self._linked_ref(i, "orderItems", self.data.order_items, "orderItems")
                for i in items
            ]
        new.update(
            ref=record["ref"],
            order=record["order"],
            createdAt=record["createdAt"],
            modifiedAt=_later_than(record["modifiedAt"]),
        )
        record.clear()
        record.update(new)
        return self._render_consumer(record)

    def _linked_ref(self, value, collection: str, table: dict, name: str) -> str:
        href = value.get("href") if isinstance(value, dict) else None
        if not isinstance(href, str) or f"/{collection}/" not in href:
            raise SandboxError(
                400, f'{name}: must be a link such as {{"href": ".../v2/{collection}/<ref>"}}.'
            )
        ref = unquote(urlsplit(href).path.rstrip("/").rsplit("/", 1)[-1])
        if self.config.check_links and ref not in table:
            raise SandboxError(400, f"{name}: no {collection[:-1]} found with ref {ref}.")
        return ref

    def control(self, method: str, path: str, body) -> tuple[int, dict]:
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
                    _check_changes(body)
                except ValueError as exc:
                    raise SandboxError(400, f"{exc}.") from None
                return 200, self.change_consumer(ref, **body)
        if path == "/_sandbox/faults" and method == "DELETE":
            self.clear_faults()
            return 200, {"faults": []}
        if path == "/_sandbox/faults" and method == "GET":
            with self.lock:
                return 200, {"faults": [asdict(f) for f in self.faults]}
        if path == "/_sandbox/requests" and method == "GET":
            with self.lock:
                return 200, {"requests": [asdict(r) for r in self.requests]}
        if path == "/_sandbox/config" and method == "POST":
            with self.lock:
                for key, value in (body or {}).items():
                    if not hasattr(self.config, key):
                        raise SandboxError(400, f"Unknown setting {key}.")
                    setattr(self.config, key, value)
                return 200, asdict(self.config)
        raise SandboxError(404, f"No control endpoint at {method} {path}.")


def _int_param(query: dict, name: str, default: int, *, minimum: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SandboxError(400, f"{name}: must be a number.") from None
    if value < minimum:
        raise SandboxError(400, f"{name}: must be at least {minimum}.")
    return value


def _ref_of(link) -> str:
    href = link.get("href") if isinstance(link, dict) else None
    if not isinstance(href, str):
        raise ValueError(
            f'not a link such as {{"href": ".../<ref>"}}: {json.dumps(link, default=str)}'
        )
    return unquote(urlsplit(href).path.rstrip("/").rsplit("/", 1)[-1])


def _bytes_as_text(value):
    """Show a fault's bytes `body` in the control endpoints' JSON."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def error_body(status: int, message: str) -> dict:
    """Return CDP's documented error body for a status (401 has a string `status`)."""
    if status == 401:
        return {
            "status": "UNAUTHORIZED",
            "code": 401,
            "message": UNAUTHORIZED_MESSAGE,
            "moreInfoUrl": MORE_INFO_URL,
        }
    return {
        "status": status,
        "code": status,
        "message": message,
        "developerMessage": message,
        "moreInfoUrl": MORE_INFO_URL,
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, sandbox: Sandbox):
        self.sandbox = sandbox
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the app's pooled connections are exercised
    server_version = "CDPSandbox/1.0"
    # Headers and body go out as separate writes; with Nagle's algorithm on, the body waits for
    # the client's delayed ACK of the headers, some 40 ms per answer.
    disable_nagle_algorithm = True

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_DELETE(self):
        self._serve("DELETE")

    def do_PUT(self):
        self._serve("PUT")

    def log_message(self, format, *args):
        pass  # the request log replaces stderr noise

    def _serve(self, method: str) -> None:
        sandbox: Sandbox = self.server.sandbox
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

    def _serve_api(self, sandbox, method: str, split, query: dict, body, body_ok: bool) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        record = RecordedRequest(method, split.path, query, headers, body)
        with sandbox.lock:
            sandbox.requests.append(record)
            generation = sandbox.generation
        fault = sandbox._take_fault(method, split.path)
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
        elif method == "POST" and "application/json" not in self.headers.get("Content-Type", ""):
            status, payload = 415, error_body(415, "Content type must be application/json.")
        elif method == "POST" and not body_ok:
            status, payload = 400, error_body(400, "The request body is not valid JSON.")
        else:
            try:
                status, payload = sandbox.handle(method, split.path, query, body)
            except SandboxError as exc:
                status, payload = exc.status, error_body(exc.status, exc.message)
        record.status = status
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

    def _send_raw(self, status, data: bytes, content_type, *, promised=None, headers=None) -> None:
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
