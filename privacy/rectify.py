"""Correcting a person everywhere: every consumer record of theirs, one form, a background job.

CDP's rectification duty: update the guest, then every order contact and order consumer that
holds the same person, for "a correction does not cascade" (cdp-api.md §9). `person_records`
finds the records the back office can (the guest's orders in CDP with their consumers linked to
the guest, and the cached consumers linked to the guest) and says how complete that list is;
`rectification_prepare` keeps them, with the change per record, as a draft the agent chooses
from; `rectification_start` queues the chosen ones, and the worker (`rectification_run`) saves
each through the same conflict-checked path as an agent's edit (`consumer_push_update`), its own
push and audit entry, every entry carrying the job's correlation id as its request id.
"""

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from django.utils import timezone

from audit.services import RequestMeta
from cdp import client
from cdp.errors import CDPError
from consumers import records
from consumers.edits import consumer_edit_save
from consumers.models import Order, OrderConsumer
from consumers.pushes import Outcome
from consumers.services import consumer_fetch, consumers_refresh, order_fetch
from core.tasks import task_enqueue
from privacy.models import Rectification, RectificationItem
from privacy.tasks import rectification_run_task

logger = logging.getLogger(__name__)
Result = RectificationItem.Result

# The fields one correction sets on every record: the person's, not the booking's.
FIELDS = ("title", "first_name", "last_name", "gender")
LABELS = {name: records.label(name) for name in FIELDS}


@dataclass
class Found:
    """One consumer record of the person, as read just now, and where it was found."""

    consumer: OrderConsumer
    order: Order | None
    found_in: str


@dataclass
class PersonRecords:
    """The person's consumer records the back office could find, and how complete the list is."""

    guest_ref: str
    found: list[Found] = field(default_factory=list)
    completeness: list[str] = field(default_factory=list)
    # Records that could not be read: {consumer or order ref: CDP's message}.
    failures: dict[str, str] = field(default_factory=dict)


def _order(ref: str) -> Order | None:
    return Order.objects.filter(ref=ref).first()


def person_records(*, consumer_ref: str = "", guest_ref: str = "") -> PersonRecords:
    """Find the person's consumer records, from a consumer of theirs or from their guest.

    Raises CDPError when the consumer it starts from cannot be read.
    """
    start = None
    if consumer_ref:
        start = consumer_fetch(ref=consumer_ref)
        guest_ref = start.guest_ref
    person = PersonRecords(guest_ref=guest_ref)
    if not guest_ref:
        if start is not None:
            person.found.append(Found(start, _order(start.order_ref), "this consumer"))
        person.completeness.append(
            "This consumer is linked to no guest in CDP, so no other record can be known to be "
            "the same person: only this one is listed. Link it to the guest first to find the rest."
        )
        return person
    seen: set[str] = set()
    try:
        order_refs = client.find_order_refs_of_guest(guest_ref)
    except CDPError as error:
        order_refs = []
        person.failures[guest_ref] = str(error)
        person.completeness.append(f"CDP could not list the guest's orders: {error}")
    else:
        read = 0
        for order_ref in order_refs:
            try:
                page = order_fetch(ref=order_ref, refresh=True)
            except CDPError as error:
                person.failures[order_ref] = str(error)
                continue
            read += 1
            for ref, failure in page.failed.items():
                person.failures[ref] = str(failure)
            for consumer in page.consumers:
                if consumer.guest_ref == guest_ref and consumer.ref not in seen:
                    seen.add(consumer.ref)
                    person.found.append(Found(consumer, page.order, "the guest's orders in CDP"))
        person.completeness.append(
            f"CDP lists {len(order_refs)} order(s) for this guest; {read} were read with all "
            f"their consumers, of whom {len(seen)} are this guest."
        )
    cached = list(
        OrderConsumer.objects.filter(guest_ref=guest_ref)
        .exclude(ref__in=seen)
        .values_list("ref", flat=True)
    )
    if start is not None and start.ref not in seen and start.ref not in cached:
        cached.append(start.ref)
    if cached:
        _, failed = consumers_refresh(refs=cached)
        for ref, failure in failed.items():
            person.failures[ref] = str(failure)
        extra = 0
        for consumer in OrderConsumer.objects.filter(ref__in=cached, guest_ref=guest_ref):
            if consumer.ref in failed:
                continue
            seen.add(consumer.ref)
            extra += 1
            person.found.append(Found(consumer, _order(consumer.order_ref), "the cache"))
        person.completeness.append(
            f"{extra} more found among the consumers cached here, on orders CDP did not list "
            "for the guest."
        )
    person.completeness.append(
        "CDP most likely lists a guest's orders by the guest as the order's contact: a trip on "
        "someone else's booking is listed only once its consumer has been opened here. Open such "
        "a booking (find it by its booking reference) and start again to include it."
    )
    if person.failures:
        person.completeness.append(
            f"{len(person.failures)} record(s) could not be read from CDP and are not listed; "
            "try again later."
        )
    person.found.sort(key=_by_date)
    return person


_LAST = datetime.max.replace(tzinfo=UTC)


def _by_date(found: Found) -> tuple[datetime, str]:
    """Oldest booking first; records whose order date is unknown last."""
    moment = found.order.ordered_at if found.order and found.order.ordered_at else None
    return moment or _LAST, found.consumer.ref


def rectification_prepare(
    *,
    person: PersonRecords,
    wanted: dict[str, str],
    reason: str,
    user: User,
    meta: RequestMeta,
    source_ref: str = "",
) -> Rectification:
    """Keep the person's records and each one's change as a draft for the agent to choose from."""
    wanted = {name: wanted.get(name, "") for name in FIELDS}
    with transaction.atomic():
        job = Rectification.objects.create(
            user=user,
            correlation_id=f"rectify-{uuid.uuid4().hex}",
            guest_ref=person.guest_ref,
            source_ref=source_ref,
            wanted=wanted,
            reason=reason,
            completeness=person.completeness,
            ip_address=meta.ip_address,
            user_agent=meta.user_agent,
        )
        items = []
        for found in person.found:
            loaded = found.consumer.editable_values()
            changes = records.changes(loaded, {**loaded, **wanted})
            items.append(
                RectificationItem(
                    job=job,
                    consumer_ref=found.consumer.ref,
                    order_ref=found.consumer.order_ref,
                    booking_ref=found.order.reference_id if found.order else "",
                    order_date=found.order.ordered_at if found.order else None,
                    found_in=found.found_in,
                    loaded=loaded,
                    loaded_modified_at=found.consumer.cdp_modified_at,
                    changes={name: list(pair) for name, pair in changes.items()},
                )
            )
        RectificationItem.objects.bulk_create(items)
    return job


def rectification_get(*, job_id: int, user: User) -> Rectification:
    """Return the correction if the user started it or is a supervisor; else raise Http404."""
    return get_object_or_404(
        Rectification.objects.visible_to(user).select_related("user"), pk=job_id
    )


def rectification_start(*, job: Rectification, item_ids: list[int]) -> Rectification:
    """Queue the chosen records (those with a change) for the worker; the others stay unchosen."""
    with transaction.atomic():
        draft = Rectification.objects.select_for_update().filter(
            pk=job.pk, status=Rectification.Status.DRAFT
        )
        if not draft.exists():
            raise ValidationError("This correction was started already.")
        chosen = job.items.filter(pk__in=item_ids).exclude(changes={})
        count = chosen.update(result=Result.WAITING)
        if not count:
            raise ValidationError("Choose at least one record that the correction changes.")
        draft.update(status=Rectification.Status.QUEUED, total=count, progressed_at=timezone.now())
        task_enqueue(rectification_run_task, job.pk, job.correlation_id)
    job.refresh_from_db()
    logger.info("correction queued", extra={"job": job.pk, "records": count})
    return job


def _apply(job: Rectification, item: RectificationItem, user: User | None) -> None:
    """Save one record's correction through the edit path; note what became of it on the item."""
    consumer = OrderConsumer.objects.filter(ref=item.consumer_ref).first()
    if consumer is None or user is None:
        item.result, item.error = (
            Result.FAILED,
            (
                "The record is no longer cached here (or its agent's account is gone): open the "
                "consumer and correct it there."
            ),
        )
        return
    meta = RequestMeta(
        ip_address=job.ip_address, user_agent=job.user_agent, request_id=job.correlation_id
    )
    try:
        # The edit path with its four-eyes gate (consumers.edits): a field the approval policy
        # holds waits for a supervisor, as it would in a single edit, and the rest is sent.
        edited = consumer_edit_save(
            consumer=consumer,
            data={**item.loaded, **job.wanted},
            loaded_modified_at=item.loaded_modified_at,
            loaded_values=item.loaded,
            user=user,
            meta=meta,
            reason=job.reason or "Correction of a person everywhere.",
        )
    except ValidationError as error:
        item.result, item.error = Result.FAILED, "; ".join(error.messages)
        return
    result = edited.sent
    item.push_id = result.push.pk if result.push else None
    item.entry_id = result.entry.pk if result.entry else None
    item.result, item.error = {
        Outcome.SUCCEEDED: (Result.APPLIED, ""),
        Outcome.UNCHANGED: (Result.UNCHANGED, ""),
        Outcome.PENDING: (
            Result.QUEUED,
            "CDP could not take it now; it is queued and will be sent automatically.",
        ),
        Outcome.CONFLICT: (
            Result.CONFLICT,
            "Someone changed this record in CDP after the preview, so nothing was sent. Open the "
            "conflict to re-apply the correction over their version, or discard it.",
        ),
        Outcome.FAILED: (
            Result.FAILED,
            f"CDP refused it: {result.error}. Correct the record on its edit page.",
        ),
    }[result.outcome]
    if edited.held is not None and item.result in (Result.APPLIED, Result.UNCHANGED):
        fields = " and ".join(records.label(name) for name in edited.held_reasons)
        item.result = Result.HELD
        item.error = (
            f"Changing {fields} needs a supervisor's approval (request {edited.held.pk}); "
            "nothing of it goes to CDP until then"
            + (", the rest of the correction was sent." if result.push else ".")
        )


def _counts(job_id: int) -> dict[str, int]:
    over = ~Q(result__in=[Result.WAITING, Result.UNSELECTED])
    bad = Q(result__in=[Result.FAILED, Result.CONFLICT])
    return RectificationItem.objects.filter(job_id=job_id).aggregate(
        done=Count("id", filter=over), failed=Count("id", filter=bad)
    )


def rectification_run(*, job_id: int) -> Rectification | None:
    """Apply the correction record by record, counting as it goes (the worker's task)."""
    started = Rectification.objects.filter(
        pk=job_id, status__in=[Rectification.Status.QUEUED, Rectification.Status.RUNNING]
    ).update(status=Rectification.Status.RUNNING, progressed_at=timezone.now())
    if not started:
        return None
    job = Rectification.objects.select_related("user").get(pk=job_id)
    for item in list(job.items.filter(result=Result.WAITING).order_by("id")):
        cancel = Rectification.objects.filter(pk=job_id).values_list("cancel_requested", flat=True)
        if not cancel.exists():
            return None  # the person was erased meanwhile, and the correction with them
        if cancel.first():
            job.items.filter(result=Result.WAITING).update(result=Result.SKIPPED)
            Rectification.objects.filter(pk=job_id).update(
                status=Rectification.Status.CANCELLED, finished_at=timezone.now(), **_counts(job_id)
            )
            return Rectification.objects.get(pk=job_id)
        _apply(job, item, job.user)
        with transaction.atomic():
            # An update, not save(): an erasure may have deleted the item meanwhile.
            RectificationItem.objects.filter(pk=item.pk).update(
                result=item.result, error=item.error, push_id=item.push_id, entry_id=item.entry_id
            )
            Rectification.objects.filter(pk=job_id).update(
                progressed_at=timezone.now(), **_counts(job_id)
            )
        logger.info(
            "correction: record done",
            extra={"job": job_id, "consumer_ref": item.consumer_ref, "result": item.result},
        )
    Rectification.objects.filter(pk=job_id, status=Rectification.Status.RUNNING).update(
        status=Rectification.Status.FINISHED, finished_at=timezone.now(), **_counts(job_id)
    )
    return Rectification.objects.filter(pk=job_id).first()


def rectification_cancel(*, job: Rectification) -> bool:
    """Ask the correction to stop between records; False if it was already over."""
    return bool(
        Rectification.objects.filter(
            pk=job.pk,
            status__in=[Rectification.Status.QUEUED, Rectification.Status.RUNNING],
        ).update(cancel_requested=True)
    )


def rectifications_purge(*, older_than: timedelta) -> int:
    """Delete the corrections over (or left as drafts) for `older_than`; return how many.

    They hold the person's values as the preview showed them; the audit log keeps what was done.
    """
    cutoff = timezone.now() - older_than
    over = Q(finished_at__lt=cutoff) | Q(status=Rectification.Status.DRAFT, created_at__lt=cutoff)
    deleted, _ = Rectification.objects.filter(over).delete()
    return deleted
