"""Reading order consumers from CDP: fetch and cache, list an order's consumers, find, search.

Saving edits back to CDP is in `consumers.pushes`.
"""

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextvars import copy_context
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection as db_connection
from django.db import models, transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from audit.services import audit_entries_reveal
from cdp import client, erasures
from cdp.connection import connection_scope, current_connection
from cdp.errors import CDPBadResponse, CDPError, CDPNotFound
from cdp.links import is_ref, is_valid_ref, parse_link
from consumers import receivers, records
from consumers.items import items_of_order
from consumers.models import (
    BulkRefresh,
    ConsumerView,
    Order,
    OrderConsumer,
    Push,
    ReasonTemplate,
)
from consumers.search import name_keys, search_key
from core.logging import error_summary

# Refs, ids and error kinds only, never record content such as names (core/logging.py).
logger = logging.getLogger(__name__)

# "lastName: may not be null." (cdp-api.md §5): an attribute, a colon and what is wrong, perhaps
# several, separated by commas; an attribute may carry an index or a sub-attribute (orderItems[0]).
_ATTRIBUTE_ERROR = re.compile(
    r"\b(?P<attribute>[A-Za-z]+)(?:\[\d+\]|\.[A-Za-z]+)*\s*:\s*"
    r"(?P<text>.+?)\s*(?=,\s*[A-Za-z]+(?:\[\d+\]|\.[A-Za-z]+)*\s*:|$)"
)


def cdp_field_errors(error: CDPError) -> dict[str, str]:
    """Return {form field: CDP's words} for each editable attribute CDP's refusal names."""
    # CDP's own message, without the client's "CDP refused the request (HTTP 400 ...): ".
    text = error.developer_message or error.answer.rpartition("): ")[2]
    found: dict[str, str] = {}
    for match in _ATTRIBUTE_ERROR.finditer(text):
        editable = records.field_of_attribute(match["attribute"])
        if editable and editable.name not in found:
            found[editable.name] = match["text"]
    return found


def _max_length(model: type[models.Model], name: str) -> int:
    """Return the longest text a column of the cache keeps."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.CharField) or field.max_length is None:
        raise TypeError(f"{model.__name__}.{name} is not a text column with a length.")
    return field.max_length


def _guest_name(guest_ref: str) -> str:
    """Return the guest's name, or "" when there is no guest or CDP cannot say."""
    if not guest_ref:
        return ""
    try:
        guest = client.get_guest(guest_ref)
    except CDPError as error:
        logger.info("guest %s not fetched: %s", guest_ref, error_summary(error))
        return ""
    return guest_name_of(guest)


def guest_name_of(guest: dict) -> str:
    """Return a guest record's first and last name ("" if CDP sent none fit to keep)."""
    parts = (guest.get("firstName"), guest.get("lastName"))
    name = " ".join(part for part in parts if isinstance(part, str) and part)
    try:
        records.check_storable(name, "a guest")
    except CDPBadResponse:
        return ""
    return name[: _max_length(OrderConsumer, "guest_name")]


def _order_read(ref: str) -> dict:
    """Read an order from CDP with its items (expanded, or else one by one)."""
    record = client.get_order_with_items(ref)
    record["_items"] = items_of_order(
        record,
        list_refs=partial(client.list_order_item_refs, ref),
        get_item=client.get_order_item,
    )
    return record


def _order_save(record: dict, ref: str) -> Order:
    summaries = record.pop("_items", None)
    records.check_storable(record, "an order")
    extra = {} if summaries is None else {"items": summaries}
    order, _ = Order.objects.update_or_create(
        ref=ref,
        defaults={
            **extra,
            "reference_id": records.read_text(
                record, "referenceId", _max_length(Order, "reference_id")
            ),
            "status": records.read_text(record, "status", _max_length(Order, "status")),
            "ordered_at": records.read_time(record.get("orderedAt"), "orderedAt"),
            "raw": record,
            "fetched_at": timezone.now(),
        },
    )
    return order


def _consumers_save(downloaded: dict[str, tuple[dict, str]]) -> dict[str, OrderConsumer]:
    """Cache many consumers in one statement (an upsert), whatever their number."""
    if not downloaded:
        return {}
    now = timezone.now()
    parsed = {
        ref: _with_keys(records.consumer_fields(record)) for ref, (record, _) in downloaded.items()
    }
    rows = [
        OrderConsumer(ref=ref, **fields, guest_name=downloaded[ref][1], fetched_at=now, **_CHECKED)
        for ref, fields in parsed.items()
    ]
    updated = [*next(iter(parsed.values())), "guest_name", "fetched_at", *_CHECKED]
    OrderConsumer.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["ref"], update_fields=updated
    )
    return {c.ref: c for c in OrderConsumer.objects.filter(ref__in=list(downloaded))}


# Told as each consumer of many is read: its ref, and why it could not be (None when it was).
Progress = Callable[[str, CDPError | None], None]

# A copy just read from CDP: whatever failed before no longer says anything about it.
_CHECKED = {"fetch_failed_at": None, "fetch_error": ""}


def consumers_mark_unchecked(*, failed: dict[str, CDPError]) -> None:
    """Note on the cached copies that CDP could not be asked about them just now, and why."""
    now = timezone.now()
    by_reason: dict[str, list[str]] = {}
    for ref, error in failed.items():
        by_reason.setdefault(str(error), []).append(ref)
    # Usually one reason for all (CDP down), so usually one UPDATE.
    for reason, refs in by_reason.items():
        OrderConsumer.objects.filter(ref__in=refs).update(fetch_failed_at=now, fetch_error=reason)


def _with_keys(fields: dict) -> dict:
    """The cache's fields of a consumer with its names' search keys."""
    return {**fields, **name_keys(fields["first_name"], fields["last_name"])}


def consumer_save(
    ref: str, record: dict, *, guest_name: str, cached: OrderConsumer | None = None
) -> OrderConsumer:
    """Cache CDP's copy of a consumer; `cached` is its row when the caller has it already."""
    fields = {
        **_with_keys(records.consumer_fields(record)),
        "guest_name": guest_name,
        "fetched_at": timezone.now(),
        **_CHECKED,
    }
    if cached is not None:
        # One UPDATE instead of update_or_create's locking read and savepoint.
        OrderConsumer.objects.filter(pk=cached.pk).update(**fields)
        for name, value in fields.items():
            setattr(cached, name, value)
        return cached
    consumer, _ = OrderConsumer.objects.update_or_create(ref=ref, defaults=fields)
    return consumer


# --- use cases --------------------------------------------------------------------------------


def consumer_fetch(*, ref: str, with_order: bool = True) -> OrderConsumer:
    """Fetch a consumer (and its guest's name and its order) from CDP and cache it.

    When CDP cannot be asked, a cached copy is marked as not checked (see `sync_state`).
    """
    try:
        record = client.get_order_consumer(ref)
        fields = records.consumer_fields(record)
    except CDPError as error:
        consumers_mark_unchecked(failed={ref: error})
        raise
    guest_name = _guest_name(fields["guest_ref"])
    if with_order and fields["order_ref"]:
        try:
            _order_save(_order_read(fields["order_ref"]), fields["order_ref"])
        except CDPError as error:
            # The consumer is still worth showing; the order's details stay as last fetched.
            logger.info("order %s not fetched: %s", fields["order_ref"], error_summary(error))
    return consumer_save(ref, record, guest_name=guest_name)


def consumer_get(*, ref: str) -> OrderConsumer:
    """Return the cached consumer, fetching it from CDP on first view."""
    consumer = OrderConsumer.objects.filter(ref=ref).first()
    return consumer or consumer_fetch(ref=ref)


def _download(
    ref: str, known_guests: dict[str, str], given: dict[str, dict] | None = None
) -> tuple[dict, str]:
    """Read a consumer and its guest's name from CDP: HTTP only, so it may run in a thread.

    `known_guests` ({guest ref: name}) spares the guest's call when the link has not changed;
    `given` ({ref: record}) the consumer's own call when CDP handed the record over already.
    """
    record = (given or {}).get(ref) or client.get_order_consumer(ref)
    guest_ref = records.consumer_fields(record)["guest_ref"]
    if known_guests.get(guest_ref):
        return record, known_guests[guest_ref]
    return record, _guest_name(guest_ref)


def consumers_download(
    refs: list[str],
    *,
    concurrency: int | None = None,
    on_done: Progress | None = None,
    given: dict[str, dict] | None = None,
) -> tuple[dict[str, tuple[dict, str]], dict[str, CDPError]]:
    """Read many consumers from CDP at once, with at most `concurrency` calls in flight.

    Returns {ref: (record, guest name)} and {ref: error}. `on_done(ref, error)` is called in the
    calling thread as each one finishes. Records in `given` (an order's consumers as CDP
    expanded them) are not read again. Nothing is written to the database here (one read: the
    guest names already cached).
    """
    downloaded: dict[str, tuple[dict, str]] = {}
    failed: dict[str, CDPError] = {}
    # Guest names as cached: a guest's name is fetched again only when the link changed.
    known_guests = dict(
        OrderConsumer.objects.filter(ref__in=refs)
        .exclude(guest_name="")
        .values_list("guest_ref", "guest_name")
    )
    download = partial(_download, known_guests=known_guests, given=given)
    for ref, future in _cdp_in_parallel(download, refs, concurrency=concurrency):
        try:
            downloaded[ref] = future.result()
        except CDPError as error:
            failed[ref] = error
        if on_done is not None:
            on_done(ref, failed.get(ref))
    return downloaded, failed


def _cdp_in_parallel[T](
    call: Callable[[str], T], refs: list[str], *, concurrency: int | None = None
) -> Iterator[tuple[str, Future[T]]]:
    """Run `call(ref)` for every ref with at most `concurrency` (default CDP_CONCURRENCY) in
    flight; yield (ref, its future) in the calling thread as each one finishes."""
    workers = max(1, concurrency or settings.CDP_CONCURRENCY)
    noted: list = []

    def in_thread(ref: str) -> T:
        # A recovery the breaker sees here wakes the queue from this thread, later: not here.
        with receivers.deferred_wakes() as seen:
            try:
                return call(ref)
            finally:
                noted.extend(seen)

    with connection_scope(), erasures.preloaded():
        current_connection()  # looked up once here, so the threads need no database
        with ThreadPoolExecutor(max_workers=workers) as pool:
            # Each call runs in a copy of this context: the page's deadline, the request id and
            # the connection looked up above all go with it.
            futures = {pool.submit(copy_context().run, in_thread, ref): ref for ref in refs}
            try:
                for future in as_completed(futures):
                    yield futures[future], future
            finally:
                receivers.wake_if_noted(noted)


@dataclass
class OrderPage:
    order: Order
    consumers: list[OrderConsumer]
    # The consumers CDP listed on the order but did not hand over, and why.
    failed: dict[str, CDPError]


def order_fetch(*, ref: str, refresh: bool = False) -> OrderPage:
    """Fetch an order and its consumer refs from CDP, and the consumers not cached yet (or all)."""
    order = _order_save(_order_read(ref), ref)
    # In v2.1 the list may bring the records along (expand), sparing a call per consumer.
    refs, expanded = client.list_order_consumers(ref)
    if order.consumer_refs != refs:
        Order.objects.filter(pk=order.pk).update(consumer_refs=refs)
        order.consumer_refs = refs
    cached = {c.ref: c for c in OrderConsumer.objects.filter(ref__in=refs)}
    wanted = refs if refresh else [r for r in refs if r not in cached]
    downloaded, failed = consumers_download(wanted, given=expanded)
    cached.update(_consumers_save(downloaded))
    consumers_mark_unchecked(failed={r: e for r, e in failed.items() if r in cached})
    for ref, error in failed.items():
        if ref in cached:  # shown as last fetched: say so on this page too
            cached[ref].fetch_failed_at, cached[ref].fetch_error = timezone.now(), str(error)
    return OrderPage(order, [cached[r] for r in refs if r in cached], failed)


def consumers_refresh(
    *, refs: list[str], concurrency: int | None = None, on_progress: Progress | None = None
) -> tuple[int, dict[str, CDPError]]:
    """Fetch many consumers again from CDP; return how many were refreshed, and the failures."""
    downloaded, failed = consumers_download(refs, concurrency=concurrency, on_done=on_progress)
    for start in range(0, len(refs), 500):
        chunk = {ref: downloaded[ref] for ref in refs[start : start + 500] if ref in downloaded}
        _consumers_save(chunk)
    consumers_mark_unchecked(failed=failed)
    return len(downloaded), failed


def order_find(*, reference: str) -> list[str]:
    """Return the refs of the orders matching an order ref or a booking reference id."""
    # Text that cannot be a ref ("..") is not put into a path; it may still be a booking reference.
    if is_valid_ref(reference):
        try:
            client.get_order(reference)
            return [reference]
        except CDPNotFound:
            pass
    return client.find_order_refs(reference)


# A title typed before a name ("Mrs Byrne", "dr. hughes"): by its key, the title CDP documents
# (and Mx, which CDP does not list but agents type).
_TITLES_BY_KEY = {search_key(title): title for title in (*records.TITLES, "Mx")}


def split_title(query: str) -> tuple[str, str]:
    """Return (title, rest) when the query starts with a title and goes on, else ("", query)."""
    first, _, rest = query.strip().partition(" ")
    title = _TITLES_BY_KEY.get(search_key(first), "")
    return (title, rest.strip()) if title and search_key(rest) else ("", query)


# The ways a query can match, each as (the column its prefix is matched on, the order of the
# results). PostgreSQL has an index on each tuple (migration 0017), compared byte by byte
# (COLLATE "C"), so that one index both finds the prefix and hands the rows over in order: a way
# reads its first rows and stops.
_BY_LAST = ("last_key", ("last_key", "first_key", "ref"))
_BRANCHES = (
    _BY_LAST,
    ("first_key", ("first_key", "last_key", "ref")),
    ("name_key", ("name_key", "ref")),
)
# Only what a results list shows: never the raw record with contact details.
_SHOWN = ("id", "ref", "order_ref", "title", "first_name", "last_name", "gender", "fetched_at",
          "first_key", "last_key")  # fmt: skip


def consumer_search(*, query: str, limit: int = 51) -> list[OrderConsumer]:
    """Find cached consumers by name, as people type it (see consumers.search); at most `limit`,
    by last name, first name and ref.

    The query's key is a prefix of the last name's, the first name's or the whole name's key
    ("byrne", "aoife", "aoife byrne", "O’Sullivan", "fernandez"), or one word's is a prefix of
    the last name's and every other word's a prefix of the first or last name's ("byrne aoife",
    "liam wal"). A title before the name ("Mrs Byrne") must match too. Each way reads at most
    `limit` rows along its index, all in one statement (UNION ALL), so a common name costs no
    more than a rare one; a name matching more than `limit` shows a first page of them.
    """
    title, query = split_title(query)
    key = search_key(query)
    if not key:
        return []
    # Keys hold letters and digits only (no % or _), so they go into LIKE as they are.
    collate = ' COLLATE "C"' if db_connection.vendor == "postgresql" else ""
    table = OrderConsumer._meta.db_table
    columns = ", ".join(f'"{name}"' for name in _SHOWN)
    ways: list[tuple[list[str], list[str], tuple[str, ...]]] = [
        ([f'("{column}"{collate}) LIKE %s'], [f"{key}%"], order) for column, order in _BRANCHES
    ]
    words = [word_key for word_key in map(search_key, query.split()[:5]) if word_key]
    if len(words) > 1:
        for at, last in enumerate(words):
            where = [f'("last_key"{collate}) LIKE %s']
            also = [f"{last}%"]
            for word in words[:at] + words[at + 1 :]:
                where.append('("first_key" LIKE %s OR "last_key" LIKE %s)')
                also += [f"{word}%", f"{word}%"]
            ways.append((where, also, _BY_LAST[1]))
    parts: list[str] = []
    params: list[str] = []
    for where, way_params, order in ways:
        if title:
            # As CDP documents titles (title case), or as an upper- or lower-case import left it.
            where = [*where, '"title" IN (%s, %s, %s)']
            way_params = [*way_params, title, title.upper(), title.lower()]
        ordering = ", ".join(f'("{name}"{collate})' for name in order)
        parts.append(
            f'SELECT * FROM (SELECT {columns} FROM "{table}" WHERE {" AND ".join(where)} '
            f"ORDER BY {ordering} LIMIT {int(limit)}) AS way{len(parts)}"
        )
        params += way_params
    with db_connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        rows = cursor.fetchall()
    # Rows as tuples, sorted and cut first: only the page's rows become model instances.
    column = {name: index for index, name in enumerate(_SHOWN)}
    by_ref, by_last, by_first = column["ref"], column["last_key"], column["first_key"]
    unique = {row[by_ref]: row for row in rows}
    ordered = sorted(unique.values(), key=lambda row: (row[by_last], row[by_first], row[by_ref]))
    return [
        OrderConsumer.from_db(db_connection.alias, list(_SHOWN), row) for row in ordered[:limit]
    ]


def consumer_mark_viewed(*, consumer: OrderConsumer, user: User) -> None:
    """Note that an agent opened the consumer: for the retention period and their recent list."""
    now = timezone.now()
    OrderConsumer.objects.filter(pk=consumer.pk).update(last_viewed_at=now)
    consumer.last_viewed_at = now
    ConsumerView.objects.bulk_create(
        [ConsumerView(user=user, consumer_ref=consumer.ref, viewed_at=now)],
        update_conflicts=True,
        unique_fields=["user", "consumer_ref"],
        update_fields=["viewed_at"],
    )


def consumers_recently_viewed(*, user: User, limit: int = 8) -> list[OrderConsumer]:
    """Return the consumers the agent opened last, newest first (those still cached)."""
    refs = list(
        ConsumerView.objects.filter(user=user)
        .order_by("-viewed_at")
        .values_list("consumer_ref", flat=True)[:limit]
    )
    shown = ("ref", "title", "first_name", "last_name")
    cached = {c.ref: c for c in OrderConsumer.objects.filter(ref__in=refs).only(*shown)}
    return [cached[ref] for ref in refs if ref in cached]


def sync_state(statuses: Iterable[str], consumer: OrderConsumer | None = None) -> str:
    """Sum up how the copy shown stands against CDP as one badge: the worst state wins.

    *Synced* claims the page shows CDP's record as last read, with no edit outstanding; a copy
    CDP could not be asked about since (the last read failed) is *unchecked* instead.
    """
    statuses = set(statuses)
    if Push.Status.CONFLICT in statuses:
        return "conflict"
    if Push.Status.FAILED in statuses:
        return "failed"
    if statuses & set(Push.WAITING):
        return "pending"
    return "unchecked" if consumer is not None and consumer.fetch_failed_at else "synced"


def consumers_sync_states(*, consumers: list[OrderConsumer]) -> dict[str, str]:
    """Return each consumer's sync state (see `sync_state`), in one query."""
    statuses: dict[str, list[str]] = {consumer.ref: [] for consumer in consumers}
    attention = Push.objects.filter(consumer_ref__in=list(statuses)).needing_attention()
    for ref, status in attention.values_list("consumer_ref", "status"):
        statuses[ref].append(status)
    return {consumer.ref: sync_state(statuses[consumer.ref], consumer) for consumer in consumers}


@dataclass
class Neighbours:
    """The travellers before and after a consumer on its booking (j and k on its page)."""

    previous: OrderConsumer | None = None
    next: OrderConsumer | None = None
    position: int = 0
    count: int = 0


def consumer_neighbours(*, consumer: OrderConsumer, order: Order | None) -> Neighbours:
    """Return the cached travellers either side of the consumer on its order, in CDP's order
    (as the order page last listed them; else by ref). One query."""
    shown = ("ref", "title", "first_name", "last_name")
    travellers = {
        c.ref: c for c in OrderConsumer.objects.filter(order_ref=consumer.order_ref).only(*shown)
    }
    listed = [r for r in (order.consumer_refs if order else []) if r in travellers]
    refs = listed + sorted(r for r in travellers if r not in listed)
    if consumer.ref not in refs:
        return Neighbours()
    at = refs.index(consumer.ref)
    return Neighbours(
        previous=travellers[refs[at - 1]] if at > 0 else None,
        next=travellers[refs[at + 1]] if at + 1 < len(refs) else None,
        position=at + 1,
        count=len(refs),
    )


@dataclass
class ConsumerPage:
    """What the consumer's page shows besides the record: its order, history and open edits."""

    consumer: OrderConsumer
    order: Order | None
    history: list[AuditEntry]
    # Its edits waiting for CDP, in conflict or failed in the queue, oldest first.
    pushes: list[Push]
    sync_state: str
    neighbours: Neighbours


def consumer_page(*, ref: str, user: User) -> ConsumerPage:
    """Return the consumer (cached, else from CDP) with what its page shows; note the view.

    Raises CDPError when the consumer is not cached and CDP cannot hand it over.
    """
    consumer = consumer_get(ref=ref)
    consumer_mark_viewed(consumer=consumer, user=user)
    pushes = list(Push.objects.filter(consumer_ref=ref).needing_attention().select_related("user"))
    order = Order.objects.filter(ref=consumer.order_ref).first()
    return ConsumerPage(
        consumer=consumer,
        order=order,
        history=audit_entries_reveal(
            AuditEntry.objects.filter(consumer_ref=ref).prefetch_related("changes")[:20]
        ),
        pushes=pushes,
        sync_state=sync_state((push.status for push in pushes), consumer),
        neighbours=consumer_neighbours(consumer=consumer, order=order),
    )


def consumer_names(*, refs: list[str]) -> dict[str, str]:
    """Return {ref: display name} of the cached consumers among `refs`."""
    shown = ("ref", "title", "first_name", "last_name")
    cached = OrderConsumer.objects.filter(ref__in=refs).only(*shown)
    return {consumer.ref: consumer.display_name for consumer in cached}


@dataclass
class Found:
    """What a search box query points at: one place to go, or a list to choose from."""

    url: str = ""
    consumers: list[OrderConsumer] | None = None
    order_refs: list[str] | None = None
    # Guests CDP found by name or e-mail address: [(guest ref, name)], and whether it has more.
    guests: list[dict[str, str]] | None = None
    more_guests: bool = False
    message: str = ""


# A booking reference (PNR): letters and digits, perhaps a dash, no spaces.
_BOOKING_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{2,39}$")
# Its "-N" suffix: B94TXY-1 is the first order under the PNR B94TXY.
_SUFFIX = re.compile(r"-\d{1,3}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# A phone number: digits with the usual separators, at least seven digits, perhaps a leading +.
_PHONE = re.compile(r"^\+?[\d\s().-]{7,30}$")
# An identifier named with its provider: "loyalty:FF900005".
_IDENTIFIER = re.compile(r"^(?P<provider>[A-Za-z][\w.-]{0,49}):(?P<id>\S{1,100})$")
# The most guests one search lists (a common name matches thousands in CDP).
GUEST_RESULTS = 20


def consumer_find(*, query: str) -> Found:
    """Find what a query names: a consumer, order or guest ref (or link), a booking reference, a
    guest's e-mail address, phone number or loyalty id, or a name: cached consumers first, else
    CDP's guests of that name. CDP is asked only for what the cache does not know; when nothing
    matches, the message says what was tried."""
    query = query.strip()
    ref, kind = _ref_and_kind(query)
    if ref:
        return _find_ref(ref, kind)
    if _EMAIL.match(query):
        return _find_guests([{"email": query}], query, tried=["CDP's guests by e-mail address"])
    if _PHONE.match(query) and sum(c.isdigit() for c in query) >= 7:
        compact = ("+" if query.startswith("+") else "") + "".join(filter(str.isdigit, query))
        asks = [{"phoneNumber": query}, {"phoneNumber": compact}]
        return _find_guests(asks, query, tried=["CDP's guests by phone number"])
    identifier = _IDENTIFIER.match(query)
    if identifier:
        asks = [
            {"identifiers.provider": identifier["provider"], "identifiers.id": identifier["id"]}
        ]
        by_identifier = [f"CDP's guests by identifier ({identifier['provider']})"]
        return _find_guests(asks, query, tried=by_identifier)
    tried: list[str] = []
    if any(character.isdigit() for character in query) and _BOOKING_REFERENCE.match(query):
        found = _find_booking(query, tried)
        if found:
            return found
        providers = settings.CDP_IDENTIFIER_PROVIDERS
        asks = [{"identifiers.provider": p, "identifiers.id": query} for p in providers]
        if asks:
            tried.append(f"CDP's guests by loyalty id ({', '.join(providers)})")
            refs, more = _guest_refs(asks)
            if refs:
                return _found_guests(refs, more)
    matches = consumer_search(query=query, limit=51)
    title, name = split_title(query)
    tried.append("cached consumers by name" + (f" with the title {title}" if title else ""))
    if len(matches) == 1:
        return Found(url=reverse("consumers:detail", args=[matches[0].ref]))
    if matches:
        return Found(consumers=matches[:50])
    # CDP cannot list consumers by name, but it can list guests (the people behind them).
    words = name.split()
    if not words:
        return Found(message=_nothing(query, tried))
    if len(words) == 1:
        asks = [{"lastName": words[0]}]
        tried.append("CDP's guests by last name")
    else:
        asks = [{"firstName": words[0], "lastName": " ".join(words[1:])}]
        tried.append("CDP's guests by first and last name")
    return _find_guests(asks, query, tried=tried)


def _nothing(query: str, tried: list[str]) -> str:
    return (
        f"Nothing matches “{query}”. Tried: {'; '.join(tried)}. CDP is asked for a guest's whole "
        "last name, or first and last name (“Byrne”, “Aoife Byrne”); a booking reference, an "
        "e-mail address, a phone number, a loyalty id or a ref finds the rest."
    )


def booking_variants(reference: str) -> list[str]:
    """The booking references worth asking CDP for: as typed, in capitals, with and without the
    "-N" suffix (CDP's referenceId search matches whole values, in case as far as is known)."""
    upper = reference.upper()
    base = _SUFFIX.sub("", upper)
    suffixed = [base] if base != upper else [f"{upper}-1"]
    return list(dict.fromkeys([reference, upper, *suffixed]))


def orders_by_booking(reference: str) -> list[Order]:
    """Return the cached orders under a booking reference in any case, with or without -N."""
    base = _SUFFIX.sub("", reference.upper())
    same = re.compile(rf"^{re.escape(base)}(-\d{{1,3}})?$", re.IGNORECASE)
    candidates = Order.objects.filter(
        Q(reference_id__iexact=base) | Q(reference_id__istartswith=f"{base}-")
    ).only("ref", "reference_id")[:50]
    return [order for order in candidates if same.match(order.reference_id)]


def _find_booking(query: str, tried: list[str]) -> Found | None:
    """The order(s) under a booking reference: cached first, else CDP asked for its variants."""
    cached = orders_by_booking(query)
    tried.append("cached orders by booking reference, in any case, with or without its -N")
    order_refs = [order.ref for order in cached]
    if not order_refs:
        variants = booking_variants(query)
        tried.append(f"CDP's orders with the booking reference {', '.join(variants)}")
        for variant in variants:
            order_refs += [r for r in client.find_order_refs(variant) if r not in order_refs]
    if len(order_refs) == 1:
        return Found(url=reverse("consumers:order", args=[order_refs[0]]))
    if order_refs:
        return Found(order_refs=order_refs)
    return None


def _guest_refs(asks: list[dict[str, str]]) -> tuple[list[str], bool]:
    """Ask CDP's guest search each set of parameters in turn; the first that finds any wins."""
    for params in asks:
        refs, more = client.find_guest_refs(params, limit=GUEST_RESULTS)
        if refs:
            return refs, more
    return [], False


def _find_guests(asks: list[dict[str, str]], query: str, *, tried: list[str]) -> Found:
    """The guests CDP lists for a name, e-mail address, phone number or identifier; straight to
    the one if unique."""
    # Whether CDP's name search minds case is not documented: a name typed all in one case is
    # asked for again in title case (as CDP recommends names be kept) before giving up.
    names = {"firstName", "lastName"}
    for params in list(asks):
        titled = {key: value.title() if key in names else value for key, value in params.items()}
        if titled != params:
            asks.append(titled)
    refs, more = _guest_refs(asks)
    if not refs:
        return Found(message=_nothing(query, tried))
    return _found_guests(refs, more)


def _found_guests(refs: list[str], more: bool) -> Found:
    if len(refs) == 1:
        found = _find_ref(refs[0], "guests")
        if found.url or found.consumers or found.order_refs:
            return found
    guests = _guest_names(refs)
    if len(refs) == 1:  # a guest without orders: nothing to open but the guest
        return Found(
            guests=guests,
            message="CDP lists no order this guest booked (it lists a guest's orders by the "
            "order's contact). If they travel on someone else's booking, find it by its booking "
            "reference or the booker's name.",
        )
    return Found(guests=guests, more_guests=more)


def _guest_card(ref: str) -> dict[str, str]:
    """A guest as the results list shows it: name, first e-mail address, and the booking
    reference of their first order (HTTP only, so it may run in a thread)."""
    card = {"ref": ref, "name": "", "email": "", "booking": "", "order_ref": ""}
    try:
        card.update(guest_lookup(ref=ref))
        order_refs = client.find_order_refs_of_guest(ref)
        if order_refs:
            card["order_ref"] = order_refs[0]
            booking = client.get_order(order_refs[0]).get("referenceId")
            card["booking"] = booking if isinstance(booking, str) else ""
    except CDPError as error:
        logger.info("guest %s not described: %s", ref, error_summary(error))
    return card


def _guest_names(refs: list[str]) -> list[dict[str, str]]:
    """Read the guests from CDP at once (CDP_CONCURRENCY calls in flight), in order: name,
    e-mail, booking reference, and the lead traveller of that booking where it is cached.

    A guest CDP cannot hand over is listed without a name rather than failing the list.
    """
    cards = {ref: future.result() for ref, future in _cdp_in_parallel(_guest_card, refs)}
    leads = _lead_travellers([card["order_ref"] for card in cards.values() if card["order_ref"]])
    for card in cards.values():
        card["lead"] = leads.get(card["order_ref"], "")
    return [cards[ref] for ref in refs]


def _lead_travellers(order_refs: list[str]) -> dict[str, str]:
    """Return {order ref: its first traveller's name} for the orders whose travellers are cached."""
    listed = dict(Order.objects.filter(ref__in=order_refs).values_list("ref", "consumer_refs"))
    firsts = {refs[0]: order for order, refs in listed.items() if refs}
    shown = ("ref", "title", "first_name", "last_name")
    cached = OrderConsumer.objects.filter(ref__in=list(firsts)).only(*shown)
    return {firsts[consumer.ref]: consumer.display_name for consumer in cached}


def demo_orders(*, refs: list[str]) -> list[dict[str, str]]:
    """The start page's demo orders: booking reference, lead traveller and their e-mail address,
    as cached (an order not opened yet shows its ref only)."""
    orders = dict(Order.objects.filter(ref__in=refs).values_list("ref", "reference_id"))
    listed = dict(Order.objects.filter(ref__in=refs).values_list("ref", "consumer_refs"))
    firsts = {found[0]: ref for ref, found in listed.items() if found}
    leads = {
        firsts[c.ref]: c
        for c in OrderConsumer.objects.filter(ref__in=list(firsts)).only(
            "ref", "title", "first_name", "last_name", "raw"
        )
    }
    rows = []
    for ref in refs:
        lead = leads.get(ref)
        emails = lead.raw.get("emails") if lead is not None and isinstance(lead.raw, dict) else None
        email = (
            emails[0] if isinstance(emails, list) and emails and isinstance(emails[0], str) else ""
        )
        rows.append(
            {
                "ref": ref,
                "booking": orders.get(ref, ""),
                "lead": lead.display_name if lead is not None else "",
                "email": email,
            }
        )
    return rows


def _ref_and_kind(query: str) -> tuple[str, str]:
    """Return (ref, kind) for a bare ref (kind "") or a CDP link (kind from its path)."""
    kind, ref = parse_link(query) or ("", query)
    return (ref, kind) if is_ref(ref) else ("", "")


def _find_ref(ref: str, kind: str) -> Found:
    consumer_url = reverse("consumers:detail", args=[ref])
    order_url = reverse("consumers:order", args=[ref])
    if kind in ("", "orderConsumers") and OrderConsumer.objects.filter(ref=ref).exists():
        return Found(url=consumer_url)
    if kind in ("", "orders") and Order.objects.filter(ref=ref).exists():
        return Found(url=order_url)
    if kind in ("", "guests"):
        guests = list(OrderConsumer.objects.filter(guest_ref=ref)[:51])
        if len(guests) == 1:
            return Found(url=reverse("consumers:detail", args=[guests[0].ref]))
        if guests:
            return Found(consumers=guests[:50])
    # Not cached: ask CDP what the ref is.
    lookups = [
        ("orderConsumers", client.get_order_consumer, consumer_url),
        ("orders", client.get_order, order_url),
    ]
    for collection, lookup, url in lookups:
        if kind in ("", collection):
            try:
                lookup(ref)
                return Found(url=url)
            except CDPNotFound:
                pass
    if kind in ("", "guests"):
        trips = guest_orders(guest_ref=ref)
        if len(trips.order_refs) == 1:
            return Found(url=reverse("consumers:order", args=[trips.order_refs[0]]))
        if trips.order_refs:
            return Found(order_refs=trips.order_refs, message=trips.note)
    return Found(message=f"CDP has no consumer, order or guest with the ref {ref}.")


@dataclass
class GuestOrders:
    """The orders a guest is on, as far as can be told, and why the list may miss some."""

    order_refs: list[str]
    note: str


# CDP's model: the order contact owns the order, a consumer travels on it (cdp-api.md §9).
GUEST_ORDERS_NOTE = (
    "These are the orders this guest booked (CDP lists a guest's orders by the order's contact) "
    "and those a consumer cached here links to them. A booking they only travel on is listed "
    "once one of its consumers has been fetched, so this list may be incomplete."
)


def guest_orders(*, guest_ref: str) -> GuestOrders:
    """Return a guest's orders: those CDP lists as theirs (as contact) and those they travel on
    as a cached consumer; CDP cannot list the second kind, so the note says so."""
    owned = client.find_order_refs_of_guest(guest_ref)
    travelled = (
        OrderConsumer.objects.filter(guest_ref=guest_ref)
        .exclude(order_ref="")
        .order_by("order_ref")
        .values_list("order_ref", flat=True)
    )
    return GuestOrders(list(dict.fromkeys([*owned, *travelled])), GUEST_ORDERS_NOTE)


def guest_lookup(*, ref: str) -> dict[str, str]:
    """Return a guest's name and first e-mail address, for the edit form's hint."""
    guest = client.get_guest(ref)
    emails = guest.get("emails")
    if not isinstance(emails, list):
        emails = []
    email = next((e for e in emails if isinstance(e, str)), "")
    return {"ref": ref, "name": guest_name_of(guest), "email": email}


def audit_entry_names(entry: AuditEntry) -> dict[str, str]:
    """What an audit entry's page shows beside the name at the time: the consumer's name now
    and the order's booking reference, as cached ("" when not cached)."""
    names: dict[str, str] = {"current_name": "", "booking_reference": ""}
    if entry.consumer_ref:
        shown = ("ref", "title", "first_name", "last_name")
        consumer = OrderConsumer.objects.filter(ref=entry.consumer_ref).only(*shown).first()
        names["current_name"] = str(consumer) if consumer else ""
    if entry.order_ref:
        booking = (
            Order.objects.filter(ref=entry.order_ref).values_list("reference_id", flat=True).first()
        )
        names["booking_reference"] = booking or ""
    return names


def order_travellers(*, order_ref: str) -> list[OrderConsumer]:
    """Return the order's cached travellers in CDP's order (as its page last listed them)."""
    travellers = {c.ref: c for c in OrderConsumer.objects.filter(order_ref=order_ref)}
    listed = Order.objects.filter(ref=order_ref).values_list("consumer_refs", flat=True).first()
    refs = [r for r in (listed or []) if r in travellers]
    return [travellers[r] for r in refs + sorted(set(travellers) - set(refs))]


def reason_templates() -> list[str]:
    """Return the common reasons administrators keep, in their order, for the reason field."""
    return list(ReasonTemplate.objects.filter(active=True).values_list("text", flat=True)[:50])


def guest_summary_or_none(*, ref: str) -> dict[str, str] | None:
    """Return the guest's name and first e-mail address, or None if there is no guest or CDP
    cannot say now (the form then shows the name as cached)."""
    if not ref:
        return None
    try:
        return guest_lookup(ref=ref)
    except CDPError as error:
        logger.info("guest %s not looked up: %s", ref, error_summary(error))
        return None


def order_items_of(*, consumer: OrderConsumer) -> dict[str, dict[str, str]]:
    """Return {item ref: summary} of the consumer's order as last read (empty if not cached)."""
    items = Order.objects.filter(ref=consumer.order_ref).values_list("items", flat=True).first()
    return items if isinstance(items, dict) else {}


def guest_search(*, query: str) -> tuple[list[dict[str, str]], bool]:
    """Search CDP's guests by name or e-mail address for the guest picker: at most
    GUEST_RESULTS, each with its ref, name and first e-mail address; and whether CDP has more."""
    query = query.strip()
    if _EMAIL.match(query):
        asks = [{"email": query}]
    else:
        words = split_title(query)[1].split()
        if not words:
            return [], False
        if len(words) == 1:
            asks = [{"lastName": words[0]}]
        else:
            asks = [{"firstName": words[0], "lastName": " ".join(words[1:])}]
        asks += [{key: value.title() for key, value in params.items()} for params in asks]
    refs, more = _guest_refs([dict(frozen) for frozen in dict.fromkeys(map(_frozen, asks))])

    def summary(ref: str) -> dict[str, str]:
        try:
            return guest_lookup(ref=ref)
        except CDPError:
            return {"ref": ref, "name": "", "email": ""}

    found = {ref: future.result() for ref, future in _cdp_in_parallel(summary, refs)}
    return [found[ref] for ref in refs], more


def _frozen(params: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(params.items())


def cache_purge(*, older_than: timedelta, dry_run: bool = False) -> dict[str, int]:
    """Drop cached personal data nobody has looked at for `older_than`; return counts per kind.

    Consumers with an edit still on its way to CDP are kept; the audit log is not touched (it
    keeps the refs and the field changes, see docs/security.md). The agents' recent views and
    bulk refreshes older than that go too.
    """
    cutoff = timezone.now() - older_than
    in_flight = Q(status__in=Push.WAITING) | Q(status=Push.Status.CONFLICT, resolution="")
    busy = Push.objects.filter(in_flight).values("consumer_ref")
    consumers = (
        OrderConsumer.objects.annotate(seen=Coalesce("last_viewed_at", "fetched_at"))
        .filter(seen__lt=cutoff)
        .exclude(ref__in=busy)
    )
    orders = Order.objects.filter(fetched_at__lt=cutoff).exclude(
        ref__in=OrderConsumer.objects.filter(
            Q(last_viewed_at__gte=cutoff) | Q(fetched_at__gte=cutoff)
        ).values("order_ref")
    )
    pushes = Push.objects.filter(finished_at__lt=cutoff).exclude(in_flight)
    # Who opened which consumer, and the refs and CDP messages of bulk refreshes, age out too.
    views = ConsumerView.objects.filter(viewed_at__lt=cutoff)
    bulk_refreshes = BulkRefresh.objects.filter(finished_at__lt=cutoff)
    counts = {
        "consumers": consumers.count(),
        "orders": orders.count(),
        "pushes": pushes.count(),
        "views": views.count(),
        "bulk_refreshes": bulk_refreshes.count(),
    }
    if not dry_run:
        with transaction.atomic():
            consumers.delete()
            orders.delete()
            pushes.delete()
            views.delete()
            bulk_refreshes.delete()
    return counts
