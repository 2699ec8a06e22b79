"""Use cases for order consumers: fetch and cache, list an order's consumers, search, push edits."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit.models import AuditEntry
from audit.services import RequestMeta, audit_entry_create
from cdp import client
from cdp.client import CDPBadResponse, CDPError, CDPNotFound
from consumers.models import FIELD_LABELS, Order, OrderConsumer, Push

logger = logging.getLogger(__name__)

# The fields an agent may edit, with the CDP attribute each one maps to.
EDITABLE_FIELDS = {
    "title": "title",
    "first_name": "firstName",
    "last_name": "lastName",
    "gender": "gender",
    "guest_ref": "guest",
    "order_item_refs": "orderItems",
}
# Attributes CDP sets itself; they are left out of an update body.
READ_ONLY_ATTRIBUTES = ("href", "ref", "createdAt", "modifiedAt", "order")


class Outcome(StrEnum):
    UNCHANGED = "unchanged"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CONFLICT = "conflict"


@dataclass
class PushResult:
    outcome: Outcome
    consumer: OrderConsumer
    error: CDPError | None = None
    # On a conflict: CDP's current values of the fields the agent edited.
    current: dict | None = None
    # The audit entry the attempt wrote (none when nothing changed).
    entry: AuditEntry | None = None


# --- reading CDP records ----------------------------------------------------------------------


def _parse_time(value, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise CDPBadResponse(f"CDP sent a {name} that is not a date and time.")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CDPBadResponse(
            f"CDP sent a {name} that is not a date and time: {value[:40]}"
        ) from None
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def _text(record: dict, name: str) -> str:
    value = record.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise CDPBadResponse(f"CDP sent a {name} that is not text.")
    return value


def _item_refs(value) -> list[str]:
    """Return the refs of an `orderItems` value, `{"items": [links]}` or a bare list of links."""
    if value is None:
        return []
    items = value.get("items") if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise CDPBadResponse("CDP sent orderItems that are not a list of links.")
    return [ref for ref in map(client.ref_from_link, items) if ref]


def _consumer_fields(record: dict) -> dict:
    """Map a CDP order-consumer record onto the cache's fields, or raise CDPBadResponse."""
    if not isinstance(record.get("firstName"), str) or not isinstance(record.get("lastName"), str):
        raise CDPBadResponse("CDP sent an order consumer without a first and last name.")
    return {
        "order_ref": client.ref_from_link(record.get("order")),
        "title": _text(record, "title"),
        "first_name": record["firstName"],
        "last_name": record["lastName"],
        "gender": _text(record, "gender"),
        "guest_ref": client.ref_from_link(record.get("guest")),
        "order_item_refs": _item_refs(record.get("orderItems")),
        "cdp_created_at": _parse_time(record.get("createdAt"), "createdAt"),
        "cdp_modified_at": _parse_time(record.get("modifiedAt"), "modifiedAt"),
        "raw": record,
    }


def _guest_name(guest_ref: str) -> str:
    """Return the guest's name, or "" when there is no guest or CDP cannot say."""
    if not guest_ref:
        return ""
    try:
        guest = client.get_guest(guest_ref)
    except CDPError as error:
        logger.info("guest %s not fetched: %s", guest_ref, error)
        return ""
    return _name_of(guest)


def _name_of(guest: dict) -> str:
    parts = (guest.get("firstName"), guest.get("lastName"))
    return " ".join(part for part in parts if isinstance(part, str) and part)


def _order_save(record: dict, ref: str) -> Order:
    order, _ = Order.objects.update_or_create(
        ref=ref,
        defaults={
            "reference_id": _text(record, "referenceId"),
            "status": _text(record, "status"),
            "ordered_at": _parse_time(record.get("orderedAt"), "orderedAt"),
            "raw": record,
            "fetched_at": timezone.now(),
        },
    )
    return order


def _consumer_save(ref: str, record: dict, *, guest_name: str) -> OrderConsumer:
    fields = _consumer_fields(record)
    consumer, _ = OrderConsumer.objects.update_or_create(
        ref=ref, defaults={**fields, "guest_name": guest_name, "fetched_at": timezone.now()}
    )
    return consumer


# --- use cases --------------------------------------------------------------------------------


def consumer_fetch(*, ref: str, with_order: bool = True) -> OrderConsumer:
    """Fetch a consumer (and its guest's name and its order) from CDP and cache it."""
    record = client.get_order_consumer(ref)
    fields = _consumer_fields(record)
    guest_name = _guest_name(fields["guest_ref"])
    if with_order and fields["order_ref"]:
        try:
            _order_save(client.get_order(fields["order_ref"]), fields["order_ref"])
        except CDPError as error:
            # The consumer is still worth showing; the order's details stay as last fetched.
            logger.info("order %s not fetched: %s", fields["order_ref"], error)
    return _consumer_save(ref, record, guest_name=guest_name)


def consumer_get(*, ref: str) -> OrderConsumer:
    """Return the cached consumer, fetching it from CDP on first view."""
    consumer = OrderConsumer.objects.filter(ref=ref).first()
    return consumer or consumer_fetch(ref=ref)


def order_fetch(*, ref: str, refresh: bool = False) -> tuple[Order, list[OrderConsumer]]:
    """Fetch an order and its consumer refs from CDP, and the consumers not cached yet (or all)."""
    order = _order_save(client.get_order(ref), ref)
    refs = client.list_order_consumer_refs(ref)
    cached = {c.ref: c for c in OrderConsumer.objects.filter(ref__in=refs)}
    consumers = []
    for consumer_ref in refs:
        if refresh or consumer_ref not in cached:
            cached[consumer_ref] = consumer_fetch(ref=consumer_ref, with_order=False)
        consumers.append(cached[consumer_ref])
    return order, consumers


def order_find(*, reference: str) -> list[str]:
    """Return the refs of the orders matching an order ref or a booking reference id."""
    try:
        client.get_order(reference)
        return [reference]
    except CDPNotFound:
        return client.find_order_refs(reference)


def consumer_search(*, query: str) -> QuerySet[OrderConsumer]:
    """Find cached consumers whose first or last name starts with each word of the query."""
    words = query.split()
    if not words:
        return OrderConsumer.objects.none()
    matches = OrderConsumer.objects.all()
    for word in words[:5]:
        matches = matches.filter(Q(first_name__istartswith=word) | Q(last_name__istartswith=word))
    return matches.order_by("last_name", "first_name", "ref")


# --- pushing an edit --------------------------------------------------------------------------


def _current_values(consumer: OrderConsumer) -> dict:
    return {field: getattr(consumer, field) for field in EDITABLE_FIELDS}


def _changes(consumer: OrderConsumer, data: dict) -> dict[str, tuple]:
    """Return {field: (old, new)} for each editable field the agent changed."""
    changes = {}
    for field, old in _current_values(consumer).items():
        new = data.get(field, old)
        if not _same_value(field, old, new):
            changes[field] = (old, new)
    return changes


def _same_value(field: str, a, b) -> bool:
    # The order of a consumer's order items carries no meaning.
    return sorted(a) == sorted(b) if field == "order_item_refs" else a == b


def _audit_text(value) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)


def _check_links(consumer: OrderConsumer, changes: dict) -> str | None:
    """Refuse links CDP would not resolve; return the new guest's name if the guest changed."""
    errors = {}
    guest_name = None
    if changes.get("guest_ref", (None, ""))[1]:
        new_guest = changes["guest_ref"][1]
        try:
            guest_name = _name_of(client.get_guest(new_guest))
        except CDPNotFound:
            errors["guest_ref"] = f"CDP has no guest with ref {new_guest}."
    if changes.get("order_item_refs", (None, []))[1]:
        order_items = set(client.list_order_item_refs(consumer.order_ref))
        foreign = [ref for ref in changes["order_item_refs"][1] if ref not in order_items]
        if foreign:
            errors["order_item_refs"] = (
                f"Not an item of this consumer's order {consumer.order_ref}: {', '.join(foreign)}."
            )
    if errors:
        raise ValidationError(errors)
    return guest_name


def _push_body(fresh: dict, changes: dict) -> dict:
    """Lay the changed fields over CDP's fresh copy; v2 replaces the whole record with this body."""
    body = {key: value for key, value in fresh.items() if key not in READ_ONLY_ATTRIBUTES}
    for field, (_, new) in changes.items():
        attribute = EDITABLE_FIELDS[field]
        if not new:
            # Leaving an attribute out of a v2 update is how it is cleared.
            body.pop(attribute, None)
        elif field == "guest_ref":
            body[attribute] = client.link("guests", new)
        elif field == "order_item_refs":
            body[attribute] = {"items": [client.link("orderItems", ref) for ref in new]}
        else:
            body[attribute] = new
    return body


@dataclass(frozen=True)
class Author:
    """Who saves, from where and why; `reverts` names the audited change a revert undoes."""

    user: object
    meta: RequestMeta
    reason: str = ""
    reverts: AuditEntry | None = None

    @property
    def action(self) -> str:
        return AuditEntry.Action.REVERT if self.reverts else AuditEntry.Action.EDIT


def consumer_push_update(
    *,
    consumer: OrderConsumer,
    data: dict,
    loaded_modified_at: datetime | None,
    user,
    meta: RequestMeta,
    reason: str = "",
    reverts: AuditEntry | None = None,
) -> PushResult:
    """Save an edit to CDP: re-read, refuse a newer version, send the full record, audit.

    Raises ValidationError when a new guest or order-item link does not resolve in CDP.
    """
    changes = _changes(consumer, data)
    if not changes:
        return PushResult(Outcome.UNCHANGED, consumer)
    author = Author(user=user, meta=meta, reason=reason, reverts=reverts)

    push = None
    try:
        guest_name = _check_links(consumer, changes)
        # Committed before the first write call, so a crash mid-push leaves a trace.
        push = Push.objects.create(
            consumer_ref=consumer.ref,
            user=user,
            changes={field: list(pair) for field, pair in changes.items()},
            loaded_modified_at=loaded_modified_at,
        )
        fresh = client.get_order_consumer(consumer.ref)
        fresh_modified_at = _consumer_fields(fresh)["cdp_modified_at"]
        if fresh_modified_at != loaded_modified_at:
            return _record_conflict(push, consumer, fresh, changes, author)
        reply = client.update_order_consumer(consumer.ref, _push_body(fresh, changes))
        if not isinstance(reply.get("firstName"), str):
            # CDP's reply to an update is documented as the record; if it is not, read it back.
            reply = client.get_order_consumer(consumer.ref)
    except CDPError as error:
        return _record_failure(push, consumer, changes, error, author)

    with transaction.atomic():
        if guest_name is None:
            guest_name = consumer.guest_name if "guest_ref" not in changes else ""
        saved = _consumer_save(consumer.ref, reply, guest_name=guest_name)
        _finish(push, Push.Status.SUCCEEDED)
        entry = _audit(consumer, changes, AuditEntry.Outcome.SUCCEEDED, author)
    return PushResult(Outcome.SUCCEEDED, saved, entry=entry)


def _finish(push: Push | None, status: str, error: str = "") -> None:
    if push is not None:
        push.status, push.error, push.finished_at = status, error, timezone.now()
        push.save(update_fields=["status", "error", "finished_at"])


def _audit(consumer, changes, outcome, author: Author, error: CDPError | None = None):
    return audit_entry_create(
        user=author.user,
        meta=author.meta,
        action=author.action,
        outcome=outcome,
        consumer_ref=consumer.ref,
        order_ref=consumer.order_ref,
        object_repr=str(consumer),
        changes={
            field: (_audit_text(old), _audit_text(new)) for field, (old, new) in changes.items()
        },
        cdp_status=error.status if error else None,
        cdp_message=error.message if error else "",
        reason=author.reason,
        reverts=author.reverts,
    )


def _record_failure(push, consumer, changes, error: CDPError, author: Author) -> PushResult:
    logger.warning("push of consumer %s failed: %s", consumer.ref, error)
    with transaction.atomic():
        _finish(push, Push.Status.FAILED, str(error))
        entry = _audit(consumer, changes, AuditEntry.Outcome.FAILED, author, error=error)
    return PushResult(Outcome.FAILED, consumer, error=error, entry=entry)


def _record_conflict(push, consumer, fresh, changes, author: Author) -> PushResult:
    """Keep CDP's newer version in the cache, audit the refused save and report what CDP holds."""
    with transaction.atomic():
        current = _consumer_save(consumer.ref, fresh, guest_name=consumer.guest_name)
        _finish(push, Push.Status.CONFLICT, "CDP holds a newer version")
        entry = _audit(consumer, changes, AuditEntry.Outcome.CONFLICT, author)
    return PushResult(
        Outcome.CONFLICT,
        current,
        current={field: getattr(current, field) for field in changes},
        entry=entry,
    )


# --- reverting an audited change ---------------------------------------------------------------


class RevertRefused(Exception):
    """The change cannot be reverted; the message says why."""


def _from_audit_text(field: str, text: str):
    if field == "order_item_refs":
        return [ref for ref in text.split(", ") if ref]
    return text


def consumer_revert(*, entry: AuditEntry, user, meta: RequestMeta, reason: str = "") -> PushResult:
    """Push an audited change's old values back to CDP, through the same path as an agent's edit.

    Refuses (RevertRefused) when the entry is not a succeeded edit or when any of its fields was
    changed again since; CDP errors come back in the result as for an edit.
    """
    if not entry.is_revertible:
        raise RevertRefused(
            "Only a change that reached CDP (a succeeded edit or revert) can be undone."
        )
    consumer = consumer_fetch(ref=entry.consumer_ref)
    data = {}
    for change in entry.changes.all():
        now = getattr(consumer, change.field)
        if not _same_value(change.field, now, _from_audit_text(change.field, change.new_value)):
            raise RevertRefused(
                f"{FIELD_LABELS.get(change.field, change.field)} was changed again since this "
                f"change: CDP now holds “{_audit_text(now) or '(empty)'}”, not "
                f"“{change.new_value or '(empty)'}”. Edit the consumer instead."
            )
        data[change.field] = _from_audit_text(change.field, change.old_value)
    return consumer_push_update(
        consumer=consumer,
        data=data,
        loaded_modified_at=consumer.cdp_modified_at,
        user=user,
        meta=meta,
        reason=reason or f"Revert of audit entry {entry.sequence}",
        reverts=entry,
    )
