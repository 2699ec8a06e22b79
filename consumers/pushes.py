"""Saving edits to CDP so that none is ever lost: push, queue, retry, conflicts and reverts.

An edit becomes a `Push` row before the first call to CDP. One attempt takes the consumer's push
lock (so two saves of one consumer never race each other), re-reads the record, refuses to
overwrite a newer version (conflict), lays the changed fields over the fresh copy and sends the
whole record (v2), or sends only the changed attributes (v2.1). When CDP cannot take it
(unreachable, timing out, failing, circuit open) the push is queued, in the same transaction as
its audit entry and the task that will try it again.
"""

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from audit.services import RequestMeta, audit_entry_create
from cdp import client
from cdp.connection import current_connection
from cdp.errors import CDPCircuitOpen, CDPError, CDPNotFound, CDPUnavailable, Failure
from consumers import records
from consumers.models import Notification, OrderConsumer, Push
from consumers.notifications import notification_create
from consumers.services import consumer_fetch, consumer_save, guest_name_of
from consumers.signals import queued_push_settled
from consumers.tasks import push_deliver_task
from core.logging import error_summary
from core.tasks import task_enqueue

# Refs, ids and error kinds only, never record content such as names (core/logging.py).
logger = logging.getLogger(__name__)

# How long an agent's save waits for another save of the same consumer before it is queued.
LOCK_WAIT_SECONDS = 3.0


class Outcome(StrEnum):
    UNCHANGED = "unchanged"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CONFLICT = "conflict"
    PENDING = "pending"


@dataclass
class PushResult:
    outcome: Outcome
    consumer: OrderConsumer
    push: Push | None = None
    error: CDPError | None = None
    # The audit entry the attempt wrote (none when nothing changed or a retry failed again).
    entry: AuditEntry | None = None


# --- the CDP side of one attempt ---------------------------------------------------------------


def _check_links(order_ref: str, changes: dict) -> str | None:
    """Refuse links CDP would not resolve; return the new guest's name if the guest changed."""
    errors = {}
    guest_name = None
    new_guest = changes.get("guest_ref", (None, ""))[1]
    if new_guest:
        try:
            guest_name = guest_name_of(client.get_guest(new_guest))
        except CDPNotFound:
            errors["guest_ref"] = f"CDP has no guest with ref {new_guest}."
    new_items = changes.get("order_item_refs", (None, []))[1]
    if new_items:
        order_items = set(client.list_order_item_refs(order_ref))
        foreign = [ref for ref in new_items if ref not in order_items]
        if foreign:
            errors["order_item_refs"] = (
                f"Not an item of this consumer's order {order_ref}: {', '.join(foreign)}."
            )
    if errors:
        raise ValidationError(errors)
    return guest_name


def push_links_check(*, order_ref: str, changes: dict) -> None:
    """Refuse new links CDP would not resolve (ValidationError); CDPError if it cannot be asked."""
    _check_links(order_ref, changes)


# --- the consumer's push lock -------------------------------------------------------------------


def _lock(ref: str, *, wait: float) -> str | None:
    """Take the consumer's push lock, waiting up to `wait` seconds; return its token or None.

    A row update rather than a database lock, so no transaction stays open while CDP answers; the
    lock expires by itself if its holder dies.
    """
    token = uuid.uuid4().hex
    deadline = time.monotonic() + wait
    while True:
        now = timezone.now()
        taken = (
            OrderConsumer.objects.filter(ref=ref)
            .filter(Q(push_lock_until__isnull=True) | Q(push_lock_until__lt=now))
            .update(
                push_lock_token=token,
                push_lock_until=now + timedelta(seconds=settings.PUSH_LOCK_SECONDS),
            )
        )
        if taken:
            return token
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def _unlock(ref: str, token: str) -> None:
    OrderConsumer.objects.filter(ref=ref, push_lock_token=token).update(
        push_lock_token="", push_lock_until=None
    )


# --- recording outcomes ---------------------------------------------------------------------------


def audit_subject(push: Push) -> str:
    """The person an edit's audit entries are about, whose key encrypts their personal values.

    The consumer's guest as the agent loaded it (one person, one key, across all their bookings),
    or the consumer itself when it has no guest. Erasing a person shreds both their guest's key
    and each of their consumers' (privacy.services), so a link changed since loses nothing.
    """
    return str(push.loaded.get("guest_ref") or push.consumer_ref)


def _meta(push: Push) -> RequestMeta:
    return RequestMeta(
        ip_address=push.ip_address, user_agent=push.user_agent, request_id=push.request_id
    )


def _settled_entry(push: Push) -> AuditEntry | None:
    """Return the pending entry of a queued push, which its final entry settles (counted once)."""
    if push.pending_entry_id is None:
        return None
    return AuditEntry.objects.filter(pk=push.pending_entry_id, superseded_by__isnull=True).first()


def _action(push: Push) -> str:
    if push.undo:
        return AuditEntry.Action.UNDO
    return AuditEntry.Action.REVERT if push.reverts_id else AuditEntry.Action.EDIT


def _audit(
    push: Push, outcome: str, error: CDPError | None = None, message: str = ""
) -> AuditEntry:
    return audit_entry_create(
        user=push.user,
        meta=_meta(push),
        action=_action(push),
        outcome=outcome,
        consumer_ref=push.consumer_ref,
        order_ref=push.order_ref,
        object_repr=push.object_repr,
        changes={
            field: (records.audit_text(old), records.audit_text(new))
            for field, (old, new) in push.changes.items()
        },
        cdp_status=error.status if error else None,
        cdp_message=message or (error.message if error else ""),
        reason=push.reason,
        reverts=AuditEntry.objects.filter(pk=push.reverts_id).first() if push.reverts_id else None,
        supersedes=_settled_entry(push) if outcome != AuditEntry.Outcome.PENDING else None,
        subject=audit_subject(push),
    )


def _notify_settled(push: Push, status: str) -> None:
    """Tell the agent, on their next page, what became of an edit of theirs the queue settled."""
    if not push.queued_at:
        return  # settled while they watched: the page told them
    what = "undo" if push.undo else "revert" if push.reverts_id else "edit"
    name = push.object_repr or push.consumer_ref
    url = reverse("consumers:detail", args=[push.consumer_ref])
    if status == Push.Status.SUCCEEDED:
        message, level = f"Your queued {what} of {name} reached CDP.", Notification.Level.SUCCESS
    elif status == Push.Status.CONFLICT:
        message = (
            f"Your queued {what} of {name} was not sent: someone changed the consumer in CDP "
            "meanwhile. Compare the versions and re-apply or discard it."
        )
        level = Notification.Level.WARNING
        url = reverse("consumers:conflict", args=[push.consumer_ref, push.pk])
    else:
        message, level = (
            f"Your queued {what} of {name} failed: {push.error}",
            Notification.Level.ERROR,
        )
    notification_create(user=push.user, message=message, url=url, level=level, kind="push")
    queued_push_settled.send(sender=Push, push=push, status=status)


def _finish(push: Push, status: str, error: str = "") -> bool:
    """Settle the push; False if it was settled already, by an attempt that ran beside this one.

    One conditional UPDATE, so whatever let two attempts of one edit run (a live one taken for a
    dead one), only one of them records an outcome and its audit entry.
    """
    push.status, push.error, push.finished_at = status, error, timezone.now()
    push.next_attempt_at = push.woken_at = None
    settled = (
        Push.objects.filter(pk=push.pk, status__in=Push.WAITING)
        .update(
            status=status, error=error, finished_at=push.finished_at, next_attempt_at=None,
            woken_at=None,
        )
    )  # fmt: skip
    if not settled:
        logger.warning("push %s was settled by another attempt; this one records nothing", push.pk)
    return bool(settled)


def _record_success(
    push: Push, reply: dict, guest_name: str | None, cached: OrderConsumer | None = None
) -> PushResult:
    with transaction.atomic():
        if cached is None:
            cached = OrderConsumer.objects.filter(ref=push.consumer_ref).first()
        if guest_name is None:
            guest_name = cached.guest_name if cached and "guest_ref" not in push.changes else ""
        saved = consumer_save(push.consumer_ref, reply, guest_name=guest_name, cached=cached)
        finished = _finish(push, Push.Status.SUCCEEDED)
        entry = _audit(push, AuditEntry.Outcome.SUCCEEDED) if finished else None
        if finished:
            _notify_settled(push, Push.Status.SUCCEEDED)
    logger.info("push %s of consumer %s saved to CDP", push.pk, push.consumer_ref)
    if push.queued_at:
        # A queued edit got through: CDP takes updates again, so the rest go now too.
        push_queue_wake(everyone=True)
    return PushResult(Outcome.SUCCEEDED, saved, push=push, entry=entry)


def _record_failure(push: Push, error: CDPError | ValidationError, *, text: str = "") -> PushResult:
    if not text:
        text = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
    # Refs and the error's kind only: CDP's message and the form's may quote names or e-mails.
    logger.warning(
        "push %s of consumer %s failed: %s", push.pk, push.consumer_ref, error_summary(error)
    )
    with transaction.atomic():
        finished = _finish(push, Push.Status.FAILED, text)
        cdp_error = error if isinstance(error, CDPError) else None
        entry = (
            _audit(push, AuditEntry.Outcome.FAILED, cdp_error, message=text) if finished else None
        )
        if finished:
            _notify_settled(push, Push.Status.FAILED)
        if push.queued_at:
            _probe_the_oldest()  # it may have been the queue's probe: another takes over
    consumer = OrderConsumer.objects.get(ref=push.consumer_ref)
    return PushResult(Outcome.FAILED, consumer, push=push, error=cdp_error, entry=entry)


def _record_conflict(push: Push, fresh: dict) -> PushResult:
    """Keep CDP's newer version in the cache and leave the push for the agent to resolve."""
    with transaction.atomic():
        cached = OrderConsumer.objects.filter(ref=push.consumer_ref).first()
        guest_name = cached.guest_name if cached else ""
        current = consumer_save(push.consumer_ref, fresh, guest_name=guest_name, cached=cached)
        push.cdp_values, push.cdp_modified_at = current.editable_values(), current.cdp_modified_at
        push.save(update_fields=["cdp_values", "cdp_modified_at"])
        finished = _finish(
            push, Push.Status.CONFLICT, "CDP holds a newer version than the one edited."
        )
        entry = _audit(push, AuditEntry.Outcome.CONFLICT) if finished else None
        if finished:
            _notify_settled(push, Push.Status.CONFLICT)
        if push.queued_at:
            _probe_the_oldest()
    return PushResult(Outcome.CONFLICT, current, push=push, entry=entry)


def _retry_delay(attempts: int) -> float:
    return min(settings.PUSH_RETRY_DELAY_MAX, settings.PUSH_RETRY_DELAY * 2 ** max(attempts - 1, 0))


def _queue(
    push: Push, error: CDPError, *, may_have_landed: bool = False, free: bool = False
) -> PushResult:
    """Keep the push for the worker to try again later, or fail it when the tries are used up.

    `may_have_landed`: the update left for CDP and its answer was lost, so it may still land; the
    next try waits at least twice the read timeout (`not_before`), by when such a straggler has
    arrived and the re-read sees it, rather than sending the same record a second time.
    `free`: a woken or probing try ahead of the push's slot; it used up no try, and the push keeps
    its slot (whose task still waits).
    """
    if not free and push.attempts >= settings.PUSH_MAX_ATTEMPTS:
        gave_up = f"Not sent: the queue gave up after {push.attempts} tries. CDP's last answer: "
        return _record_failure(push, error, text=gave_up + error.answer)
    first_time = push.queued_at is None
    with transaction.atomic():
        now = timezone.now()
        # CDP's answer without the client's "Gave up after N attempts": the edit is not given up.
        push.status, push.error = Push.Status.PENDING, error.answer
        push.queued_at = push.queued_at or now
        push.woken_at = None
        if may_have_landed:
            wait = 2 * current_connection().read_timeout
            push.not_before = now + timedelta(seconds=wait)
        slot = push.next_attempt_at
        if not free:
            slot = now + timedelta(seconds=_retry_delay(push.attempts))
        if push.not_before and (slot is None or slot < push.not_before):
            slot = push.not_before
        enqueue = not free or slot != push.next_attempt_at
        push.next_attempt_at = slot
        changed = ["status", "error", "queued_at", "next_attempt_at", "woken_at", "not_before"]
        # Not over an outcome another attempt of the same edit recorded meanwhile (_finish).
        still_waiting = Push.objects.filter(pk=push.pk, status__in=Push.WAITING).update(
            **{field: getattr(push, field) for field in changed}
        )
        if not still_waiting:
            logger.warning("push %s was settled by another attempt; not queued again", push.pk)
            return PushResult(Outcome.PENDING, OrderConsumer.objects.get(ref=push.consumer_ref))
        # Only the first queueing is audited; later failed tries update the push, not the log.
        entry = (
            _audit(push, AuditEntry.Outcome.PENDING, error, message=error.answer)
            if first_time
            else None
        )
        if entry is not None:
            push.pending_entry_id = entry.pk
            push.save(update_fields=["pending_entry_id"])
        logger.info(
            "push %s of consumer %s queued after try %d%s: %s",
            push.pk,
            push.consumer_ref,
            push.attempts,
            " (a free one)" if free else "",
            error_summary(error),
        )
        if enqueue:
            # Commits together with the push, or is queued once it has (core/tasks.py).
            task_enqueue(push_deliver_task, push.pk, run_after=slot)
        probe = _probe_the_oldest(now)
        if probe and probe[0] == push.pk:
            push.woken_at = probe[1]
    _note_queued()
    consumer = OrderConsumer.objects.get(ref=push.consumer_ref)
    return PushResult(Outcome.PENDING, consumer, push=push, error=error, entry=entry)


# The shortest pause between two probing tries of the queue, whatever PUSH_PROBE_INTERVAL says:
# a probe that came due at once would have the worker call CDP in a loop.
PROBE_FLOOR_SECONDS = 1.0


def _oldest_waiting() -> Push | None:
    return (
        Push.objects.filter(status__in=Push.WAITING, queued_at__isnull=False)
        .order_by("queued_at", "pk")
        .first()
    )


def _probe_the_oldest(now: datetime | None = None) -> tuple[int, datetime] | None:
    """While edits wait, have the oldest tried again after PUSH_PROBE_INTERVAL, as a free try.

    Without this, a queue nobody else touches waits for its backoff slots (up to
    PUSH_RETRY_DELAY_MAX) although CDP answers again, for nothing else calls CDP to say so. One
    edit probes, so an outage costs CDP one try per interval (no call while the breaker is open),
    and probing uses up none of its tries. Returns (push id, when), or None if none was due.
    """
    now = now or timezone.now()
    oldest = _oldest_waiting()
    if oldest is None or oldest.status != Push.Status.PENDING:
        return None  # nothing waits, or the oldest is being tried right now
    pause = max(settings.PUSH_PROBE_INTERVAL, PROBE_FLOOR_SECONDS)
    at = max(now + timedelta(seconds=pause), oldest.not_before or now)
    if oldest.next_try_at and oldest.next_try_at <= at:
        return None  # tried by then anyway
    Push.objects.filter(pk=oldest.pk, status=Push.Status.PENDING).update(woken_at=at)
    task_enqueue(push_deliver_task, oldest.pk, run_after=at)
    return oldest.pk, at


def push_queue_wake(*, everyone: bool = False) -> int:
    """Have queued edits tried now, for CDP answers again; return how many were woken.

    The oldest only, unless `everyone`: its try tells whether CDP takes updates again, and once
    one is delivered (which proves it) the rest follow (`_record_success`). A woken try uses up
    none of the edit's tries and, if CDP fails again, keeps its slot; an update whose answer was
    lost is not tried before it could have landed (`not_before`). The receiver of
    `cdp.resilience.cdp_answered_again` calls it (consumers/receivers.py).
    """
    now = timezone.now()
    asleep = Push.objects.filter(status=Push.Status.PENDING, next_attempt_at__gt=now).exclude(
        woken_at__lte=now
    )
    if everyone:
        chosen = list(asleep.order_by("queued_at", "pk").values_list("pk", "not_before")[:500])
    else:
        oldest = _oldest_waiting()
        chosen = []
        if oldest is not None and asleep.filter(pk=oldest.pk).exists():
            chosen = [(oldest.pk, oldest.not_before)]
    with transaction.atomic():
        for push_id, not_before in chosen:
            at = max(now, not_before or now)
            Push.objects.filter(pk=push_id, status=Push.Status.PENDING).update(woken_at=at)
            task_enqueue(push_deliver_task, push_id, run_after=at)
    if chosen:
        logger.info("CDP answers again: %d queued edit(s) to be tried now", len(chosen))
    return len(chosen)


def _attempt(
    push: Push,
    *,
    guest_name: str | None,
    links_checked: bool,
    lock_wait: float,
    cached: OrderConsumer | None = None,
    counted: bool = False,
    free: bool = False,
) -> PushResult:
    """Make one try at delivering a push, holding the consumer's push lock throughout.

    An agent's save passes the consumer's row (`cached`) and a push already counting this try
    (`counted`), each sparing a query. A `free` try (woken, or the queue's probe) counts not.
    """
    token = _lock(push.consumer_ref, wait=lock_wait)
    if token is None:
        busy = CDPUnavailable("Another save of this consumer is still in progress.")
        return _queue(push, busy, free=free)
    update_sent = False
    try:
        if not counted:
            push.attempts += 0 if free else 1
            push.attempt_started_at = timezone.now()
            push.save(update_fields=["attempts", "attempt_started_at"])
        try:
            if not links_checked:
                guest_name = _check_links(push.order_ref, push.changes)
            fresh = client.get_order_consumer(push.consumer_ref)
            fields = records.consumer_fields(fresh)
            if fields["cdp_modified_at"] != push.loaded_modified_at:
                # An earlier try may have reached CDP although its answer was lost.
                if push.queued_at and records.holds(fields, push.changes):
                    return _record_success(push, fresh, guest_name, cached)
                return _record_conflict(push, fresh)
            update_sent = True
            connection = current_connection()
            # The whole record and only its changes: the connection's API version picks the one
            # it sends (v2 replaces the record, v2.1 patches it; cdp.client.update_order_consumer).
            reply = client.update_order_consumer(
                push.consumer_ref,
                records.push_body(fresh, push.changes, connection=connection),
                changed=records.patch_body(push.changes, connection=connection),
            )
            if not isinstance(reply.get("firstName"), str):
                # CDP's reply to an update is documented as the record; if it is not, read it back.
                reply = client.get_order_consumer(push.consumer_ref)
        except ValidationError as error:
            return _record_failure(push, error)
        except CDPError as error:
            if error.retryable:
                ambiguous = update_sent and error.failure is Failure.AMBIGUOUS
                return _queue(push, error, may_have_landed=ambiguous, free=free)
            return _record_failure(push, error)
        return _record_success(push, reply, guest_name, cached)
    finally:
        _unlock(push.consumer_ref, token)


# --- what the agent is told --------------------------------------------------------------------


def queued_message(result: PushResult, *, what: str = "your edit") -> str:
    """Tell the agent that a queued edit is safe: what happened, and what happens next."""
    push, error = result.push, result.error
    if push is None:
        raise ValueError("Only the result of a queued edit, which has its push, says this.")
    if isinstance(error, CDPCircuitOpen):
        happened, why = "CDP is paused after failing again and again", "Why"
    elif error is not None and error.status:
        # CDP answered (429, 5xx): it was there, but did not take the edit.
        happened, why = "CDP could not take it just now", "CDP's answer"
    elif error is not None and error.failure is not Failure.FINAL:
        happened, why = "CDP did not answer", "CDP's answer"
    else:  # not sent at all, e.g. another save of the consumer held it
        happened, why = "It could not be sent yet", "Why"
    when = f" (next try at {push.next_try_at:%H:%M:%S} UTC)" if push.next_try_at else ""
    return (
        f"{happened}; {what} is queued and will be sent automatically{when}, after checking "
        "again that nobody changed the consumer in CDP meanwhile. Nothing is lost: until CDP has "
        "it, the consumer's page lists it under “Changes not in CDP yet”, where you can retry it "
        f"now or cancel it. {why}: {push.error}"
    )


# How long after a failed try a queued edit counts as "CDP is refusing updates" for the banner.
FAILING_WINDOW = timedelta(minutes=10)
# Set in the cache for FAILING_WINDOW whenever an edit is queued, so that pages ask the database
# only then (with the default local-memory cache: when this process queued one).
_QUEUED_LATELY = "consumers:edit-queued-lately"


def _note_queued() -> None:
    try:
        cache.set(_QUEUED_LATELY, True, timeout=FAILING_WINDOW.total_seconds())
    except Exception:  # the banner is a courtesy; a cache outage must not fail a save
        logger.warning("Could not note a queued edit in the cache.", exc_info=True)


def pushes_refused_lately() -> int:
    """Count the queued edits CDP refused or left unanswered in the last few minutes.

    For the banner every page shows: how agents learn that CDP takes no updates even while it
    answers reads (and the circuit breaker stays closed). No query unless an edit was queued
    lately; then one, on the status index.
    """
    try:
        if not cache.get(_QUEUED_LATELY):
            return 0
    except Exception:
        return 0
    since = timezone.now() - FAILING_WINDOW
    return (
        Push.objects.filter(status=Push.Status.PENDING)
        .filter(Q(attempt_started_at__gte=since) | Q(queued_at__gte=since))
        .count()
    )


# --- use cases ----------------------------------------------------------------------------------


def consumer_push_update(
    *,
    consumer: OrderConsumer,
    data: dict,
    loaded_modified_at: datetime | None,
    user: User,
    meta: RequestMeta,
    loaded_values: dict | None = None,
    reason: str = "",
    reverts: AuditEntry | None = None,
    undo: bool = False,
) -> PushResult:
    """Save an edit to CDP; queue it when CDP cannot take it now.

    `loaded_values` are the editable fields as the agent loaded them (default: the cache).
    Raises ValidationError, sending nothing, when a new guest or order-item link does not resolve.
    """
    loaded = loaded_values if loaded_values is not None else consumer.editable_values()
    changes = records.changes(loaded, data)
    if not changes:
        return PushResult(Outcome.UNCHANGED, consumer)
    push = Push(
        consumer_ref=consumer.ref,
        order_ref=consumer.order_ref,
        object_repr=str(consumer)[:200],
        user=user,
        ip_address=meta.ip_address,
        user_agent=meta.user_agent,
        request_id=meta.request_id,
        reason=reason,
        reverts_id=reverts.pk if reverts else None,
        undo=undo and reverts is not None,
        loaded=loaded,
        changes={field: list(pair) for field, pair in changes.items()},
        loaded_modified_at=loaded_modified_at,
    )
    try:
        guest_name = _check_links(consumer.order_ref, push.changes)
        links_checked = True
    except CDPError as error:
        if not error.retryable:
            push.save()
            return _record_failure(push, error)
        # CDP cannot check the links now; the worker checks them before it sends.
        guest_name, links_checked = None, False
    if not links_checked:
        push.save()
        return _queue(push, CDPUnavailable("CDP could not be reached to check the links."))
    # Committed before the first write call, so a crash mid-push leaves a trace; it counts this
    # first try already.
    push.attempts, push.attempt_started_at = 1, timezone.now()
    push.save()
    return _attempt(
        push,
        guest_name=guest_name,
        links_checked=True,
        lock_wait=LOCK_WAIT_SECONDS,
        cached=consumer,
        counted=True,
    )


def push_deliver(*, push_id: int) -> PushResult | None:
    """Try a queued push again (the worker's task); None if it is not queued, or not due yet.

    The claim is one conditional UPDATE, so of two tasks for one push only one tries it; and a
    task that comes before the push is due (a duplicate, or one left from an earlier schedule)
    does nothing, so no try comes before `not_before`.
    """
    now = timezone.now()
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now) | Q(woken_at__lte=now)
    # The attempt starts with the claim: requeue_pushes, which takes over an attempt that began
    # long ago, must not read the previous try's start and send this live one a second worker.
    claimed = (
        Push.objects.filter(due, pk=push_id, status=Push.Status.PENDING)
        .exclude(not_before__gt=now)
        .update(status=Push.Status.SENDING, attempt_started_at=now)
    )
    if not claimed:
        return None
    push = Push.objects.get(pk=push_id)
    # Woken, or probing, ahead of its slot: a free try.
    free = push.next_attempt_at is not None and push.next_attempt_at > now
    if not OrderConsumer.objects.filter(ref=push.consumer_ref).exists():
        try:
            consumer_fetch(ref=push.consumer_ref)
        except CDPError as error:
            if error.retryable:
                return _queue(push, error, free=free)
            return _record_failure(push, error)
    return _attempt(push, guest_name=None, links_checked=False, lock_wait=0, free=free)


def push_get(*, ref: str, push_id: int, user: User) -> Push:
    """Return an edit of the consumer if the user made it or is a supervisor; else Http404.

    Retry now and Cancel load the queued edit through here, so an agent acts on their own edits
    only and another agent's answers as if it did not exist.
    """
    return get_object_or_404(
        Push.objects.visible_to(user).select_related("user"), pk=push_id, consumer_ref=ref
    )


def pushes_waiting(*, ref: str) -> list[Push]:
    """Return the consumer's edits not in CDP yet (queued or being sent), with their authors."""
    return list(
        Push.objects.filter(consumer_ref=ref, status__in=Push.WAITING).select_related("user")
    )


def pushes_needing_attention(*, limit: int = 200) -> list[Push]:
    """Return everyone's edits waiting for CDP, in conflict or failed in the queue, oldest first."""
    return list(Push.objects.needing_attention().select_related("user")[:limit])


def push_retry_now(*, push: Push) -> bool:
    """Move a queued push to the front: the worker tries it at once. False if not queued."""
    with transaction.atomic():
        now = timezone.now()
        pending = Push.objects.filter(pk=push.pk, status=Push.Status.PENDING)
        not_before = pending.values_list("not_before", flat=True).first()
        # Not before an update whose answer was lost could have landed.
        at = max(now, not_before or now)
        moved = pending.update(next_attempt_at=at, woken_at=None)
        if moved:
            task_enqueue(push_deliver_task, push.pk, run_after=at)
            push.next_attempt_at, push.woken_at = at, None
    return bool(moved)


def push_cancel(*, push: Push, user: User, meta: RequestMeta) -> bool:
    """Cancel a queued push (it will not be sent) and audit who cancelled it."""
    with transaction.atomic():
        cancelled = Push.objects.filter(pk=push.pk, status=Push.Status.PENDING).update(
            status=Push.Status.CANCELLED,
            finished_at=timezone.now(),
            next_attempt_at=None,
            woken_at=None,
        )
        if cancelled:
            _audit_resolution(push, AuditEntry.Action.CANCEL, user=user, meta=meta)
            if push.user_id != user.pk:  # a supervisor cancelled it: its agent should know
                notification_create(
                    user=push.user,
                    message=f"{user.get_username()} cancelled your queued edit of "
                    f"{push.object_repr or push.consumer_ref}; it was not sent to CDP.",
                    url=reverse("consumers:detail", args=[push.consumer_ref]),
                    level=Notification.Level.WARNING,
                    kind="push",
                )
            _probe_the_oldest()  # it may have been the queue's probe: another takes over
    return bool(cancelled)


def push_requeue_stuck() -> int:
    """Queue again the pushes a crash left behind; return how many.

    A push is *sending* only while an attempt runs; one whose attempt began longer ago than the
    push lock lasts was cut short (the process died). A queued push long past its time lost its
    task (e.g. the tasks backend was switched). The next try re-reads before it sends, so a
    cut-short attempt that did reach CDP is recognised rather than repeated.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.PUSH_LOCK_SECONDS * 2)
    is_stuck = (
        Q(status=Push.Status.SENDING, attempt_started_at__lt=stale)
        | Q(status=Push.Status.SENDING, attempt_started_at__isnull=True, created_at__lt=stale)
        | Q(status=Push.Status.PENDING, next_attempt_at__lt=stale)
    )
    requeued = 0
    for push_id in Push.objects.filter(is_stuck).values_list("pk", flat=True):
        with transaction.atomic():
            # Only if still stuck: a push a worker claimed or settled since the list was read
            # must not be made pending again (it would be tried, and settled, a second time).
            if Push.objects.filter(is_stuck, pk=push_id).update(
                status=Push.Status.PENDING,
                next_attempt_at=now,
                queued_at=Coalesce("queued_at", Value(now)),
            ):
                task_enqueue(push_deliver_task, push_id)
                requeued += 1
    return requeued


# --- conflicts ----------------------------------------------------------------------------------


class ConflictResolved(Exception):
    """The conflict was already re-applied or discarded."""


def conflict_get(*, ref: str, push_id: int, user: User) -> Push:
    """Return a conflict of the consumer if the user made the edit or is a supervisor.

    Raises Http404 otherwise: another agent's conflict answers as if it did not exist, so nobody
    resolves an edit that is not theirs (and is audited as having done so).
    """
    return get_object_or_404(
        Push.objects.visible_to(user).select_related("user", "resolved_by"),
        pk=push_id,
        consumer_ref=ref,
        status=Push.Status.CONFLICT,
    )


@dataclass
class ConflictPage:
    """A conflict's versions: CDP's (now, or as it was if resolved) and what resolving it did."""

    consumer: OrderConsumer
    # CDP's editable fields: as the agent was shown them at the conflict once it is resolved.
    cdp: dict
    # The audit entry of the re-applied save or of the discard, once resolved.
    resulting: AuditEntry | None = None
    # Why CDP's version is the cached one rather than read just now.
    error: CDPError | None = None


def conflict_page(*, push: Push) -> ConflictPage:
    """Return what the conflict page compares; an open conflict reads CDP's version afresh."""
    consumer = OrderConsumer.objects.get(ref=push.consumer_ref)
    if push.resolution:
        # History: CDP's version as the agent was shown it, not as CDP holds it today.
        resulting = None
        if push.resolution_entry_id:
            resulting = AuditEntry.objects.filter(pk=push.resolution_entry_id).first()
        return ConflictPage(consumer, push.cdp_values or consumer.editable_values(), resulting)
    try:
        consumer = consumer_fetch(ref=push.consumer_ref)
    except CDPError as error:
        return ConflictPage(consumer, consumer.editable_values(), error=error)
    return ConflictPage(consumer, consumer.editable_values())


def _audit_resolution(push: Push, action: str, *, user: User, meta: RequestMeta) -> AuditEntry:
    return audit_entry_create(
        user=user,
        meta=meta,
        action=action,
        outcome=AuditEntry.Outcome.SUCCEEDED,
        consumer_ref=push.consumer_ref,
        order_ref=push.order_ref,
        object_repr=push.object_repr,
        changes={
            field: (records.audit_text(old), records.audit_text(new))
            for field, (old, new) in push.changes.items()
        },
        reason=push.reason,
        supersedes=_settled_entry(push),
        subject=audit_subject(push),
    )


def _claim_resolution(push: Push, resolution: str, user: User) -> None:
    """Mark the conflict resolved by `user`, unless someone resolved it first."""
    now = timezone.now()
    claimed = Push.objects.filter(pk=push.pk, status=Push.Status.CONFLICT, resolution="").update(
        resolution=resolution, resolved_by=user, resolved_at=now
    )
    if not claimed:
        raise ConflictResolved("This conflict was already resolved.")
    push.resolution, push.resolved_by, push.resolved_at = resolution, user, now


def _unclaim_resolution(push: Push) -> None:
    Push.objects.filter(pk=push.pk).update(resolution="", resolved_by=None, resolved_at=None)
    push.resolution, push.resolved_by, push.resolved_at = "", None, None


def _note_resolution_entry(push: Push, entry: AuditEntry | None) -> None:
    if entry is not None:
        Push.objects.filter(pk=push.pk).update(resolution_entry_id=entry.pk)
        push.resolution_entry_id = entry.pk


def conflict_reapply(*, push: Push, user: User, meta: RequestMeta) -> PushResult:
    """Apply a conflicting edit's changes over CDP's current version, as a new save."""
    _claim_resolution(push, Push.Resolution.REAPPLIED, user)
    try:
        consumer = consumer_fetch(ref=push.consumer_ref)
    except CDPError:
        _unclaim_resolution(push)
        raise
    current = consumer.editable_values()
    data = {**current, **{field: new for field, (_, new) in push.changes.items()}}
    try:
        result = consumer_push_update(
            consumer=consumer,
            data=data,
            loaded_modified_at=consumer.cdp_modified_at,
            loaded_values=current,
            user=user,
            meta=meta,
            reason=push.reason or "Re-applied after a conflict.",
        )
    except ValidationError:
        _unclaim_resolution(push)  # nothing was sent: the conflict still waits for a decision
        raise
    _note_resolution_entry(push, result.entry)
    return result


def conflict_discard(*, push: Push, user: User, meta: RequestMeta) -> AuditEntry:
    """Drop a conflicting edit, keeping CDP's version, and audit that it was dropped."""
    _claim_resolution(push, Push.Resolution.DISCARDED, user)
    entry = _audit_resolution(push, AuditEntry.Action.DISCARD, user=user, meta=meta)
    _note_resolution_entry(push, entry)
    return entry


# --- reverting an audited change ------------------------------------------------------------------


class RevertRefused(Exception):
    """The change cannot be reverted; the message says why."""


def revert_refusal(*, entry: AuditEntry) -> str:
    """Say why the audited change cannot be reverted, without asking CDP; "" if it may be."""
    if not entry.is_revertible:
        return "Only a change that reached CDP (a succeeded edit or revert) can be undone."
    if entry.is_erased:
        return "The person this change was about was erased: its values are gone, by design."
    done = (
        AuditEntry.objects.filter(reverts=entry, outcome=AuditEntry.Outcome.SUCCEEDED)
        .order_by("sequence")
        .first()
    )
    if done:
        undone = done.action == AuditEntry.Action.UNDO
        return f"Already {'undone' if undone else 'reverted'}, by audit entry {done.sequence}."
    if Push.objects.filter(reverts_id=entry.pk, status__in=Push.WAITING).exists():
        return (
            "A revert of this change is already queued for CDP; it is listed on the consumer's "
            "page until it is sent."
        )
    return ""


@dataclass
class RevertPreview:
    """What a revert would send: CDP's current copy, and per field its value now and the old one."""

    consumer: OrderConsumer
    # {"field", "label", "now", "sends"} per field of the change, in the entry's order.
    rows: list[dict]
    data: dict


def consumer_revert_preview(*, entry: AuditEntry) -> RevertPreview:
    """Read the consumer from CDP and say, field by field, what reverting the entry would send.

    Raises RevertRefused (already reverted, not revertible, or a field changed again since) and
    CDPError when CDP cannot be read. Nothing is sent or written but the cached copy.
    """
    refusal = revert_refusal(entry=entry)
    if refusal:
        raise RevertRefused(refusal)
    consumer = consumer_fetch(ref=entry.consumer_ref)
    rows, data = [], {}
    for change in entry.changes.all():
        now = getattr(consumer, change.field)
        new = records.from_audit_text(change.field, change.new_text)
        if not records.same_value(change.field, now, new):
            raise RevertRefused(
                f"{records.label(change.field)} was changed again since this "
                f"change: CDP now holds “{records.audit_text(now) or '(empty)'}”, not "
                f"“{change.new_text or '(empty)'}”. Edit the consumer instead."
            )
        data[change.field] = records.from_audit_text(change.field, change.old_text)
        rows.append(
            {
                "field": change.field,
                "label": records.label(change.field),
                "now": records.audit_text(now),
                "sends": change.old_text,
            }
        )
    return RevertPreview(consumer=consumer, rows=rows, data=data)


def consumer_revert(
    *, entry: AuditEntry, user: User, meta: RequestMeta, reason: str = "", undo: bool = False
) -> PushResult:
    """Push an audited change's old values back to CDP, through the same path as an agent's edit.

    Refuses (RevertRefused) what `consumer_revert_preview` refuses: an entry that is not a
    succeeded edit, one already reverted (or whose revert is queued), or one with a field changed
    again since; CDP errors come back in the result as for an edit.
    """
    preview = consumer_revert_preview(entry=entry)
    return consumer_push_update(
        consumer=preview.consumer,
        data=preview.data,
        loaded_modified_at=preview.consumer.cdp_modified_at,
        user=user,
        meta=meta,
        reason=reason or f"Revert of audit entry {entry.sequence}",
        reverts=entry,
        undo=undo,
    )


# --- an agent undoing their own save --------------------------------------------------------------

# How long after a save its author may undo it from the message that confirmed it.
UNDO_WINDOW = timedelta(minutes=10)
UNDO_REASON = "Undo by its author of audit entry {sequence}, within 10 minutes of the save"


def undo_refusal(*, entry: AuditEntry, user: User) -> str:
    """Say why the user may not undo the audited save now; "" if they may."""
    if entry.user_id != user.pk:
        return "Only the agent who made a save can undo it; a supervisor can revert it instead."
    if entry.action != AuditEntry.Action.EDIT:
        return "Only an edit can be undone."
    if timezone.now() - entry.action_time > UNDO_WINDOW:
        return (
            "The 10 minutes to undo this save are over; a supervisor can still revert it from "
            "the audit log."
        )
    return revert_refusal(entry=entry)


def consumer_undo(*, entry: AuditEntry, user: User, meta: RequestMeta) -> PushResult:
    """Undo the user's own save within UNDO_WINDOW, through the revert path (conflict-checked,
    audited as an undo, linked by `reverts` to the save it undoes)."""
    refusal = undo_refusal(entry=entry, user=user)
    if refusal:
        raise RevertRefused(refusal)
    return consumer_revert(
        entry=entry,
        user=user,
        meta=meta,
        reason=UNDO_REASON.format(sequence=entry.sequence),
        undo=True,
    )


# --- the order page's inline form ---------------------------------------------------------------


def consumers_push_names(
    *,
    rows: list[tuple[OrderConsumer, dict | None, dict | None]],
    user: User,
    meta: RequestMeta,
    reason: str = "",
) -> dict[str, PushResult]:
    """Save each traveller's edited values (title and names) as its own save: each conflict-
    checked against the version its row was loaded with, and audited. A row without values
    (its form was refused) is skipped. Returns {consumer ref: result}."""
    results: dict[str, PushResult] = {}
    for consumer, data, loaded in rows:
        if data is None or loaded is None:
            continue
        try:
            results[consumer.ref] = consumer_push_update(
                consumer=consumer,
                data=data,
                loaded_values=loaded["values"],
                loaded_modified_at=loaded["modified_at"],
                user=user,
                meta=meta,
                reason=reason,
            )
        except ValidationError as error:
            push = Push(consumer_ref=consumer.ref)
            results[consumer.ref] = PushResult(
                Outcome.FAILED, consumer, push=push, error=CDPUnavailable("; ".join(error.messages))
            )
    return results
