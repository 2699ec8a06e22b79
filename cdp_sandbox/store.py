"""The simulated CDP's data and what its REST API, v2 and v2.1 side by side, does with it.

The documented order-consumer, order, order-item and guest endpoints with the documented shapes
(absolute `{"href": ...}` links, `offset`/`limit` collections with `first`/`last` links, and in
v2.1 `next` and `items[].ref`, ISO 8601 UTC timestamps), error bodies, v2's full-replace
update and v2.1's PUT (full replace), PATCH (partial) and DELETE. Both versions serve the same
records: one written through v2 is read through v2.1. Facts and inferences are in
`../shared/cdp-api.md`; inferred behaviour is a `SandboxConfig` option (docs/sandbox.md).

A route is one line of `ROUTES`: its method, its path under the version, the versions it is in
and the method of `Store` that answers it, so a new endpoint is one line and one method.
"""

import copy
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from urllib.parse import quote, unquote, urlsplit

from cdp_sandbox import seed

MORE_INFO_URL = "https://support.sitecore.com"
# The versions of the REST API the sandbox serves, each under its own path prefix.
VERSIONS = ("v2", "v2.1")
V2, V2_1 = VERSIONS
# v2.1 order items: "name" is at most 128 characters (updatesorderitem).
ORDER_ITEM_NAME_MAX = 128
# CDP's 404 says this in `message`, and which resource in `developerMessage` (deleteguest docs).
NOT_FOUND_MESSAGE = "The specified resource does not exist."
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
    # The API versions answered; a version left out answers 404, as a CDP that lacks it would.
    versions: list[str] = field(default_factory=lambda: list(VERSIONS))
    # Undocumented in CDP: how a v2.1 PATCH clears an attribute. True: a null clears it. False:
    # a null is refused (400), and clearing takes a PUT of the whole record without it.
    patch_clears_with_null: bool = True
    # Documented for v2.1 contacts, inferred for consumers: whether `expand=true` on an order's
    # consumers answers whole records instead of links.
    expand_consumers: bool = True
    # Which orders `GET /orders?guestRef=` lists: "contact", the orders the guest owns as their
    # contact (CDP's model, inferred for the query), or "consumer", those the guest travels on.
    guest_orders_by: str = "contact"


class SandboxError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def error_body(status: int, message: str) -> dict:
    """Return CDP's documented error body for a status (401 has a string `status`).

    A 404 says the generic "The specified resource does not exist." in `message` and `message`
    here, the specific text, in `developerMessage`, as CDP documents it.
    """
    if status == 404:
        return {
            "status": 404,
            "code": 404,
            "message": NOT_FOUND_MESSAGE,
            "developerMessage": message or NOT_FOUND_MESSAGE,
            "moreInfoUrl": MORE_INFO_URL,
        }
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

    def consumer(self, ref: str, version: str = V2) -> dict:
        """Return a consumer as the API would render it (in `version`)."""
        with self.lock:
            return self._render_consumer(self.data.consumers[ref], version)

    # --- rendering ------------------------------------------------------------------------------

    def _href(self, version: str, *segments: str) -> str:
        return f"{self.base_url}/{version}/" + "/".join(quote(s, safe="") for s in segments)

    def _link(self, collection: str, ref: str, version: str = V2) -> dict:
        return {"href": self._href(version, collection, ref)}

    def _render_consumer(self, record: dict, version: str = V2) -> dict:
        body: dict[str, object] = {"href": self._href(version, "orderConsumers", record["ref"])}
        for key, value in record.items():
            if key == "guest":
                body["guest"] = self._link("guests", value, version)
            elif key == "orderItems":
                body["orderItems"] = {
                    "items": [self._link("orderItems", ref, version) for ref in value]
                }
            elif key == "order":
                body["order"] = self._link("orders", value, version)
            else:
                body[key] = copy.deepcopy(value)
        return body

    def _render_plain(self, collection: str, record: dict, version: str = V2) -> dict:
        body: dict[str, object] = {"href": self._href(version, collection, record["ref"])}
        body.update(copy.deepcopy({k: v for k, v in record.items() if k != "order"}))
        if "order" in record:
            body["order"] = self._link("orders", record["order"], version)
        return body

    def _render_order(self, record: dict, version: str, expand_items: bool) -> dict:
        body = self._render_plain("orders", record, version)
        ref = record["ref"]
        body["consumers"] = {"href": self._href(version, "orders", ref, "consumers")}
        body["contacts"] = {"href": self._href(version, "orders", ref, "contacts")}
        items_href = self._href(version, "orders", ref, "orderItems")
        if expand_items:
            # The expanded order's own href keeps the ?expand= it was asked with.
            body["href"] += "?expand=orderItems"
            items = [self._render_plain("orderItems", i, version) for i in self._items_of(ref)]
            body["orderItems"] = {
                "href": f"{items_href}?offset=0&limit={len(items)}",
                "offset": 0,
                "limit": len(items),
                "items": items,
            }
        else:
            body["orderItems"] = {"href": items_href}
        return body

    def _collection(
        self, call: "Call", entries: list[tuple[str, Callable[[], dict] | None]]
    ) -> dict:
        """Render one page of a collection of (ref, full record maker or None) entries.

        v2 items are links; v2.1 items carry the ref too, or are whole records when expanded.
        Both carry `first` and `last` links (documented for v2 orders and v2.1 lists); `next`
        is v2.1's, and only while more items follow. A `limit` above the maximum is capped.
        """
        query = call.query
        offset = _int_param(query, "offset", 0, minimum=0)
        limit = _int_param(query, "limit", self.config.default_page_limit, minimum=1)
        limit = min(limit, self.config.max_page_limit, 100)
        extra = "".join(
            f"{k}={quote(v)}&" for k, v in query.items() if k not in ("offset", "limit")
        )
        base = f"{self.base_url}{call.path}?{extra}"

        def href(at: int) -> dict:
            return {"href": f"{base}offset={at}&limit={limit}"}

        items = []
        for ref, expanded in entries[offset : offset + limit]:
            if call.version == V2:
                items.append(self._link(call.collection_of_items, ref, V2))
            elif expanded is not None:
                items.append(expanded())
            else:
                items.append({**self._link(call.collection_of_items, ref, V2_1), "ref": ref})
        page = {
            "href": href(offset)["href"],
            "offset": offset,
            "limit": limit,
            "first": href(0),
            "last": href(max(0, (len(entries) - 1) // limit * limit)),
            "items": items,
        }
        if call.version == V2_1 and offset + limit < len(entries):
            page["next"] = href(offset + limit)
        return page

    def _items_of(self, order_ref: str) -> list[dict]:
        return [i for i in self.data.order_items.values() if i["order"] == order_ref]

    # --- the API ---------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict, body: object) -> tuple[int, dict | None]:
        """Answer an authenticated API request: return (status, JSON body or None for no
        content), or raise SandboxError."""
        with self.lock:
            parts = [unquote(p) for p in path.strip("/").split("/")]
            if len(parts) < 2 or parts[0] not in self.config.versions:
                raise SandboxError(404, f"No resource at {path}.")
            version, route = parts[0], parts[1:]
            for each in ROUTES:
                refs = each.match(method, version, route)
                if refs is not None:
                    call = Call(version, path, query, body, refs, each.items)
                    return each.answer(self, call)
            raise SandboxError(404, f"No resource at {method} {path}.")

    def _find(self, table: dict, ref: str, kind: str) -> dict:
        if ref not in table:
            raise SandboxError(404, f"No {kind} found with ref {ref}.")
        return table[ref]

    def get_consumer(self, call: "Call") -> tuple[int, dict]:
        record = self._find(self.data.consumers, call.refs[0], "order consumer")
        return 200, self._render_consumer(record, call.version)

    def replace_consumer(self, call: "Call") -> tuple[int, dict]:
        """v2 POST and v2.1 PUT: the body replaces the whole record."""
        record = self._find(self.data.consumers, call.refs[0], "order consumer")
        return self.config.update_status, self._update_consumer(record, call.body, call.version)

    def patch_consumer(self, call: "Call") -> tuple[int, dict]:
        """v2.1 PATCH: the attributes sent change, all others stay as they are."""
        record = self._find(self.data.consumers, call.refs[0], "order consumer")
        if not isinstance(call.body, dict):
            raise SandboxError(400, "The request body must be a JSON object.")
        current = self._render_consumer(record, call.version)
        merged = {k: v for k, v in current.items() if k not in READ_ONLY}
        for name, value in call.body.items():
            if name in READ_ONLY:
                continue
            if value is not None:
                merged[name] = value
            elif name in ("firstName", "lastName") or not self.config.patch_clears_with_null:
                how = (
                    ""
                    if name in ("firstName", "lastName")
                    else (" To clear an attribute, replace the record with PUT, leaving it out.")
                )
                raise SandboxError(400, f"{name}: may not be null.{how}")
            else:
                merged.pop(name, None)
        return self.config.update_status, self._update_consumer(record, merged, call.version)

    def delete_consumer(self, call: "Call") -> tuple[int, None]:
        """v2.1 DELETE: 204 No Content, as for order contacts."""
        self._find(self.data.consumers, call.refs[0], "order consumer")
        del self.data.consumers[call.refs[0]]
        return 204, None

    def consumer_order_items(self, call: "Call") -> tuple[int, dict]:
        record = self._find(self.data.consumers, call.refs[0], "order consumer")
        entries = [
            (ref, self._item_maker(ref, call.version)) for ref in record.get("orderItems", [])
        ]
        return 200, self._collection(call, entries if call.expand else _links_only(entries))

    def get_order(self, call: "Call") -> tuple[int, dict]:
        order = self._find(self.data.orders, call.refs[0], "order")
        expand = call.query.get("expand") in ("orderItems", "true")
        return 200, self._render_order(order, call.version, expand)

    def order_consumers(self, call: "Call") -> tuple[int, dict]:
        order = self._find(self.data.orders, call.refs[0], "order")
        records = [c for c in self.data.consumers.values() if c["order"] == order["ref"]]
        expand = call.expand and self.config.expand_consumers
        entries: list[tuple[str, Callable[[], dict] | None]] = [
            (c["ref"], partial(self._render_consumer, c, call.version) if expand else None)
            for c in records
        ]
        return 200, self._collection(call, entries)

    def order_items(self, call: "Call") -> tuple[int, dict]:
        order = self._find(self.data.orders, call.refs[0], "order")
        entries = [
            (i["ref"], self._item_maker(i["ref"], call.version))
            for i in self._items_of(order["ref"])
        ]
        return 200, self._collection(call, entries if call.expand else _links_only(entries))

    def _item_maker(self, ref: str, version: str) -> Callable[[], dict] | None:
        item = self.data.order_items.get(ref)
        return None if item is None else (lambda: self._render_plain("orderItems", item, version))

    def get_order_item(self, call: "Call") -> tuple[int, dict]:
        item = self._find(self.data.order_items, call.refs[0], "order item")
        return 200, self._render_plain("orderItems", item, call.version)

    def replace_order_item(self, call: "Call") -> tuple[int, dict]:
        """v2.1 PUT of an order item: replaces it; its `name` is at most 128 characters."""
        item = self._find(self.data.order_items, call.refs[0], "order item")
        body = call.body
        if not isinstance(body, dict):
            raise SandboxError(400, "The request body must be a JSON object.")
        name = body.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > ORDER_ITEM_NAME_MAX):
            raise SandboxError(400, f"name: size must be between 0 and {ORDER_ITEM_NAME_MAX}.")
        kept = {k: item[k] for k in ("ref", "order", "createdAt")}
        item.clear()
        item.update({k: copy.deepcopy(v) for k, v in body.items() if k not in READ_ONLY})
        item.update(kept, modifiedAt=_later_than(kept["createdAt"]))
        return self.config.update_status, self._render_plain("orderItems", item, call.version)

    def get_guest(self, call: "Call") -> tuple[int, dict]:
        guest = self._find(self.data.guests, call.refs[0], "guest")
        return 200, self._render_plain("guests", guest, call.version)

    def find_orders(self, call: "Call") -> tuple[int, dict]:
        query = call.query
        if call.version == V2_1 and "referenceId" in query and "guestRef" in query:
            # v2.1 documents the two as "either… not both".
            raise SandboxError(400, "guestRef, referenceId: give either of them, not both.")
        if "referenceId" in query:
            found = [
                o for o in self.data.orders.values() if o["referenceId"] == query["referenceId"]
            ]
        elif "guestRef" in query:
            guest = query["guestRef"]
            if self.config.guest_orders_by == "consumer":
                travelled = {
                    c["order"] for c in self.data.consumers.values() if c.get("guest") == guest
                }
                found = [o for o in self.data.orders.values() if o["ref"] in travelled]
            else:
                owned = {o for o, contact in self.data.order_contacts.items() if contact == guest}
                found = [o for o in self.data.orders.values() if o["ref"] in owned]
        else:
            raise SandboxError(400, "referenceId or guestRef: one of them is required.")
        sort = query.get("sort")
        if call.version == V2_1 and sort is not None:
            if sort not in ("created", "orderedAt"):
                raise SandboxError(400, "sort: must be created or orderedAt.")
            found.sort(key=lambda o: o["createdAt" if sort == "created" else "orderedAt"])
        return 200, self._collection(call, [(o["ref"], None) for o in found])

    # Guest search parameters and the guest attribute each one matches. The docs list the
    # parameters, not how they match: the sandbox compares whole values, ignoring case unless
    # `case_sensitive_guest_search` (e-mail addresses always ignore case).
    GUEST_SEARCH = {"firstName": "firstName", "lastName": "lastName", "email": "emails",
                    "phoneNumber": "phoneNumbers"}  # fmt: skip

    def find_guests(self, call: "Call") -> tuple[int, dict]:
        query = call.query

        def fold(name: str, value: object) -> str:
            if name == "phoneNumber":
                # Undocumented: the sandbox compares a phone number's digits (and a leading +),
                # so "+353 1 555 1000" and "+35315551000" are one number.
                text = str(value).strip()
                return ("+" if text.startswith("+") else "") + "".join(filter(str.isdigit, text))
            exact = self.config.case_sensitive_guest_search and name != "email"
            return str(value) if exact else str(value).casefold()

        asked = {name: fold(name, query[name]) for name in self.GUEST_SEARCH if name in query}
        identifier = (query.get("identifiers.provider"), query.get("identifiers.id"))
        if any(identifier) and not all(identifier):
            raise SandboxError(
                400, "identifiers.provider and identifiers.id: give both, or neither."
            )
        if not asked and not any(identifier):
            names = [*self.GUEST_SEARCH, "identifiers.provider+identifiers.id"]
            raise SandboxError(400, f"{', '.join(names)}: one of them is required.")

        def has_identifier(guest: dict) -> bool:
            held = guest.get("identifiers")
            return any(
                isinstance(item, dict)
                and item.get("provider") == identifier[0]
                and item.get("id") == identifier[1]
                for item in (held if isinstance(held, list) else [])
            )

        def matches(guest: dict) -> bool:
            if all(identifier) and not has_identifier(guest):
                return False
            for name, wanted in asked.items():
                value = guest.get(self.GUEST_SEARCH[name])
                values = value if isinstance(value, list) else [value]
                if wanted not in {fold(name, v) for v in values if v is not None}:
                    return False
            return True

        found = [g["ref"] for g in self.data.guests.values() if matches(g)]
        return 200, self._collection(call, [(ref, None) for ref in found])

    def _update_consumer(self, record: dict, body: object, version: str = V2) -> dict:
        """Replace the whole consumer with `body` (an attribute left out is gone afterwards)."""
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
        if version == V2_1 and "dateOfBirth" in new and not _in_the_past(new["dateOfBirth"]):
            raise SandboxError(400, "dateOfBirth: Date must be in the past.")
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
        return self._render_consumer(record, version)

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


def _links_only(
    entries: list[tuple[str, Callable[[], dict] | None]],
) -> list[tuple[str, Callable[[], dict] | None]]:
    return [(ref, None) for ref, _ in entries]


def _in_the_past(value: str) -> bool:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SandboxError(400, "dateOfBirth: must be an ISO 8601 date.") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment < datetime.now(UTC)


@dataclass(frozen=True)
class Call:
    """One API request as a route's answer sees it."""

    version: str
    path: str
    query: dict
    body: object
    # The refs in the path, in order (`{ref}` in the route's pattern).
    refs: list[str]
    # The collection a list's items link to (orderConsumers, orders, ...).
    collection_of_items: str

    @property
    def expand(self) -> bool:
        """v2.1's `expand=true` on a collection: its items as whole records."""
        return self.version == V2_1 and self.query.get("expand") == "true"


@dataclass(frozen=True)
class Route:
    """One endpoint: `GET orders/{ref}/consumers` in the given versions, answered by `answer`."""

    method: str
    pattern: str
    answer: Callable[[Store, Call], tuple[int, dict | None]]
    versions: tuple[str, ...] = VERSIONS
    # For a collection: the collection its items link to.
    items: str = ""

    def match(self, method: str, version: str, route: list[str]) -> list[str] | None:
        """Return the refs of a matching request's path, else None."""
        parts = self.pattern.split("/")
        if method != self.method or version not in self.versions or len(parts) != len(route):
            return None
        refs = []
        for part, segment in zip(parts, route, strict=True):
            if part == "{ref}":
                refs.append(segment)
            elif part != segment:
                return None
        return refs


# Every endpoint the sandbox serves (docs/sandbox.md). v2 updates with POST (full replace);
# v2.1 with PUT (full replace) or PATCH (partial), and deletes.
ROUTES = [
    Route("GET", "orderConsumers/{ref}", Store.get_consumer),
    Route("POST", "orderConsumers/{ref}", Store.replace_consumer, (V2,)),
    Route("PUT", "orderConsumers/{ref}", Store.replace_consumer, (V2_1,)),
    Route("PATCH", "orderConsumers/{ref}", Store.patch_consumer, (V2_1,)),
    Route("DELETE", "orderConsumers/{ref}", Store.delete_consumer, (V2_1,)),
    Route("GET", "orderConsumers/{ref}/orderItems", Store.consumer_order_items, (V2_1,),
          items="orderItems"),
    Route("GET", "orders", Store.find_orders, items="orders"),
    Route("GET", "orders/{ref}", Store.get_order),
    Route("GET", "orders/{ref}/consumers", Store.order_consumers, items="orderConsumers"),
    Route("GET", "orders/{ref}/orderItems", Store.order_items, items="orderItems"),
    Route("GET", "orderItems/{ref}", Store.get_order_item),
    Route("PUT", "orderItems/{ref}", Store.replace_order_item, (V2_1,)),
    Route("GET", "guests", Store.find_guests, items="guests"),
    Route("GET", "guests/{ref}", Store.get_guest),
]  # fmt: skip
