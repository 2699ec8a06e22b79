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
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from cdp import client
from cdp.connection import connection_scope, current_connection
from cdp.errors import CDPBadResponse, CDPError, CDPNotFound
from cdp.links import is_ref, is_valid_ref, parse_link
from consumers import receivers, records
from consumers.models import BulkRefresh, ConsumerView, Order, OrderConsumer, Push
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


def _order_save(record: dict, ref: str) -> Order:
    records.check_storable(record, "an order")
    order, _ = Order.objects.update_or_create(
        ref=ref,
        defaults={
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
    parsed = {ref: records.consumer_fields(record) for ref, (record, _) in downloaded.items()}
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


def consumer_save(
    ref: str, record: dict, *, guest_name: str, cached: OrderConsumer | None = None
) -> OrderConsumer:
    """Cache CDP's copy of a consumer; `cached` is its row when the caller has it already."""
    fields = {
        **records.consumer_fields(record),
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
            _order_save(client.get_order(fields["order_ref"]), fields["order_ref"])
        except CDPError as error:
            # The consumer is still worth showing; the order's details stay as last fetched.
            logger.info("order %s not fetched: %s", fields["order_ref"], error_summary(error))
    return consumer_save(ref, record, guest_name=guest_name)


def consumer_get(*, ref: str) -> OrderConsumer:
    """Return the cached consumer, fetching it from CDP on first view."""
    consumer = OrderConsumer.objects.filter(ref=ref).first()
    return consumer or consumer_fetch(ref=ref)


def _download(ref: str, known_guests: dict[str, str]) -> tuple[dict, str]:
    """Read a consumer and its guest's name from CDP: HTTP only, so it may run in a thread.

    `known_guests` ({guest ref: name}) spares the guest's call when the link has not changed.
    """
    record = client.get_order_consumer(ref)
    guest_ref = records.consumer_fields(record)["guest_ref"]
    if known_guests.get(guest_ref):
        return record, known_guests[guest_ref]
    return record, _guest_name(guest_ref)


def consumers_download(
    refs: list[str], *, concurrency: int | None = None, on_done: Progress | None = None
) -> tuple[dict[str, tuple[dict, str]], dict[str, CDPError]]:
    """Read many consumers from CDP at once, with at most `concurrency` calls in flight.

    Returns {ref: (record, guest name)} and {ref: error}. `on_done(ref, error)` is called in the
    calling thread as each one finishes. Nothing is written to the database here (one read: the
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
    download = partial(_download, known_guests=known_guests)
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

    with connection_scope():
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
    order = _order_save(client.get_order(ref), ref)
    refs = client.list_order_consumer_refs(ref)
    cached = {c.ref: c for c in OrderConsumer.objects.filter(ref__in=refs)}
    wanted = refs if refresh else [r for r in refs if r not in cached]
    downloaded, failed = consumers_download(wanted)
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


def consumer_search(*, query: str) -> QuerySet[OrderConsumer]:
    """Find cached consumers whose first or last name starts with each word of the query."""
    words = query.split()
    if not words:
        return OrderConsumer.objects.none()
    matches = OrderConsumer.objects.all()
    for word in words[:5]:
        matches = matches.filter(Q(first_name__istartswith=word) | Q(last_name__istartswith=word))
    # Only what a results list shows: never the raw record with contact details.
    shown = ("ref", "title", "first_name", "last_name", "gender", "fetched_at")
    return matches.only(*shown).order_by("last_name", "first_name", "ref")


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
class ConsumerPage:
    """What the consumer's page shows besides the record: its order, history and open edits."""

    consumer: OrderConsumer
    order: Order | None
    history: QuerySet[AuditEntry]
    # Its edits waiting for CDP, in conflict or failed in the queue, oldest first.
    pushes: list[Push]
    sync_state: str


def consumer_page(*, ref: str, user: User) -> ConsumerPage:
    """Return the consumer (cached, else from CDP) with what its page shows; note the view.

    Raises CDPError when the consumer is not cached and CDP cannot hand it over.
    """
    consumer = consumer_get(ref=ref)
    consumer_mark_viewed(consumer=consumer, user=user)
    pushes = list(Push.objects.filter(consumer_ref=ref).needing_attention().select_related("user"))
    return ConsumerPage(
        consumer=consumer,
        order=Order.objects.filter(ref=consumer.order_ref).first(),
        history=AuditEntry.objects.filter(consumer_ref=ref).prefetch_related("changes")[:20],
        pushes=pushes,
        sync_state=sync_state((push.status for push in pushes), consumer),
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
    guests: list[tuple[str, str]] | None = None
    more_guests: bool = False
    message: str = ""


# A booking reference (PNR): letters and digits, perhaps a dash, no spaces.
_BOOKING_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{2,39}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# The most guests one search lists (a common name matches thousands in CDP).
GUEST_RESULTS = 20


def consumer_find(*, query: str) -> Found:
    """Find what a query names: a consumer, order or guest ref (or link), a booking reference, a
    guest's e-mail address, or a name: cached consumers first, else CDP's guests of that name.
    CDP is asked only for what the cache does not know."""
    query = query.strip()
    ref, kind = _ref_and_kind(query)
    if ref:
        return _find_ref(ref, kind)
    if _EMAIL.match(query):
        return _find_guests({"email": query}, query)
    if any(character.isdigit() for character in query) and _BOOKING_REFERENCE.match(query):
        order_refs = client.find_order_refs(query)
        if len(order_refs) == 1:
            return Found(url=reverse("consumers:order", args=[order_refs[0]]))
        if order_refs:
            return Found(order_refs=order_refs)
    matches = list(consumer_search(query=query)[:51])
    if len(matches) == 1:
        return Found(url=reverse("consumers:detail", args=[matches[0].ref]))
    if matches:
        return Found(consumers=matches[:50])
    # CDP cannot list consumers by name, but it can list guests (the people behind them).
    words = query.split()
    if len(words) == 1:
        return _find_guests({"lastName": words[0]}, query)
    return _find_guests({"firstName": words[0], "lastName": " ".join(words[1:])}, query)


def _find_guests(params: dict[str, str], query: str) -> Found:
    """The guests CDP lists for a name or an e-mail address; straight to the one if unique."""
    refs, more = client.find_guest_refs(params, limit=GUEST_RESULTS)
    # Whether CDP's name search minds case is not documented: a name typed all in one case is
    # asked for again in title case (as CDP recommends names be kept) before giving up.
    titled = {key: value.title() for key, value in params.items() if key != "email"}
    if not refs and titled and {**params, **titled} != params:
        refs, more = client.find_guest_refs({**params, **titled}, limit=GUEST_RESULTS)
    if not refs:
        searched = "e-mail address" if "email" in params else "name"
        return Found(
            message=f"Nothing matches “{query}”: no cached consumer has that name, and CDP has "
            f"no guest with that {searched}. CDP is asked for a guest's whole last name, or "
            "first and last name (“Byrne”, “Aoife Byrne”); a booking reference or a ref finds "
            "the rest."
        )
    if len(refs) == 1:
        found = _find_ref(refs[0], "guests")
        if found.url or found.consumers or found.order_refs:
            return found
    guests = _guest_names(refs)
    if len(refs) == 1:  # a guest without orders: nothing to open but the guest
        return Found(guests=guests, message="This guest has no orders in CDP.")
    return Found(guests=guests, more_guests=more)


def _guest_names(refs: list[str]) -> list[tuple[str, str]]:
    """Read the guests' names from CDP at once (CDP_CONCURRENCY calls in flight), in order.

    A guest CDP cannot hand over is listed without a name rather than failing the list.
    """
    names = {ref: future.result() for ref, future in _cdp_in_parallel(_guest_name, refs)}
    return [(ref, names[ref]) for ref in refs]


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
        order_refs = client.find_order_refs_of_guest(ref)
        if len(order_refs) == 1:
            return Found(url=reverse("consumers:order", args=[order_refs[0]]))
        if order_refs:
            return Found(order_refs=order_refs)
    return Found(message=f"CDP has no consumer, order or guest with the ref {ref}.")


def guest_lookup(*, ref: str) -> dict[str, str]:
    """Return a guest's name and first e-mail address, for the edit form's hint."""
    guest = client.get_guest(ref)
    emails = guest.get("emails")
    if not isinstance(emails, list):
        emails = []
    email = next((e for e in emails if isinstance(e, str)), "")
    return {"ref": ref, "name": guest_name_of(guest), "email": email}


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
