"""The simulated CDP's data and what its REST API v2 does with it, HTTP apart.

The documented order-consumer, order, order-item and guest endpoints with the documented shapes
(absolute `{"href": ...}` links, `offset`/`limit` collections, ISO 8601 UTC timestamps), error
bodies and v2's full-replace update. Facts and inferences are in `../shared/cdp-api.md`; inferred
behaviour is a `SandboxConfig` option.
"""

import copy
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote, urlsplit

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


class SandboxError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _later_than(previous: str) -> str:
    """Return now, or a millisecond after `previous` if the clock has not moved past it."""
    now = _now()
    if now > previous:
        return now
    moment = datetime.fromisoformat(previous.replace("Z", "+00:00")) + timedelta(milliseconds=1)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_changes(changes: dict) -> None:
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


def _ref_of(link: object) -> str:
    href = link.get("href") if isinstance(link, dict) else None
    if not isinstance(href, str):
        raise ValueError(
            f'not a link such as {{"href": ".../<ref>"}}: {json.dumps(link, default=str)}'
        )
    return unquote(urlsplit(href).path.rstrip("/").rsplit("/", 1)[-1])


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


class Store:
    """The seeded records and the API's semantics; `lock` guards every read and write."""

    def __init__(self, config: SandboxConfig, lock: threading.RLock):
        self.config = config
        self.lock = lock
        self.data = seed.build()
        self.base_url = ""

    def reset(self) -> None:
        """Restore the seed data."""
        with self.lock:
            self.data = seed.build()

    def change_consumer(self, ref: str, **changes: object) -> dict:
        """Change a consumer as another CDP user would, advancing its `modifiedAt`.

        A value of None removes the attribute. `guest` and `orderItems` take refs, or the link
        objects the API renders.
        """
        check_changes(changes)
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

    def consumer(self, ref: str) -> dict:
        """Return a consumer as the API would render it."""
        with self.lock:
            return self._render_consumer(self.data.consumers[ref])

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

    def handle(self, method: str, path: str, query: dict, body: object) -> tuple[int, dict]:
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
        def fold(name: str, value: object) -> str:
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

    def _update_consumer(self, record: dict, body: object) -> dict:
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

    def _linked_ref(self, value: object, collection: str, table: dict, name: str) -> str:
        href = value.get("href") if isinstance(value, dict) else None
        if not isinstance(href, str) or f"/{collection}/" not in href:
            raise SandboxError(
                400, f'{name}: must be a link such as {{"href": ".../v2/{collection}/<ref>"}}.'
            )
        ref = unquote(urlsplit(href).path.rstrip("/").rsplit("/", 1)[-1])
        if self.config.check_links and ref not in table:
            raise SandboxError(400, f"{name}: no {collection[:-1]} found with ref {ref}.")
        return ref
