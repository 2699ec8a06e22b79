"""Forgetting a person CDP erased: everywhere the back office keeps or would send their data.

CDP's guest delete removes the guest, their orders and order items; its docs then make the
company "ensure that none of your systems send any of [the guest's] personal data". An
administrator records the erasure request, and `erasure_record` does, in one transaction: cancel
the person's queued edits, open conflicts, bulk-refresh items and corrections; delete their cached
consumers, orders and recent views; put their guest and consumer refs on the do-not-send list
(`cdp.erasures`); and shred their audit keys, so the audit log keeps every entry (still
verifiable) while the person's values read "erased". The erasure is itself audited, with its
ticket and counts and nothing of the person.
"""

import logging
from dataclasses import dataclass, field
from datetime import date

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from approvals.models import ApprovalRequest
from audit.models import AuditEntry, AuditSubjectKey
from audit.services import RequestMeta, audit_entry_create, audit_subjects_shred
from cdp.models import ErasedRef
from consumers.models import BulkRefreshItem, ConsumerView, Order, OrderConsumer, Push
from privacy.models import ErasureRequest, Rectification, RectificationItem

# Refs and counts only, never a person's data.
logger = logging.getLogger(__name__)


def _approvals_delete(consumer_refs: set[str]) -> int:
    """Delete the person's approval requests; return how many were still waiting.

    A request holds the values the agent saw and proposed (names, links) and the agent's reason,
    so none is kept, decided or not, like their queued edits; the audit entries of its steps are
    sealed under the person's key and shredded with it.
    """
    requests = ApprovalRequest.objects.filter(consumer_ref__in=consumer_refs)
    open_ = (ApprovalRequest.Status.WAITING, ApprovalRequest.Status.APPROVING)
    waiting = requests.filter(status__in=open_).count()
    requests.delete()
    return waiting


@dataclass
class ErasurePlan:
    """What forgetting a person would do, counted before anything is done."""

    guest_ref: str
    consumer_refs: list[str]
    counts: dict[str, int] = field(default_factory=dict)


def _person_consumer_refs(guest_ref: str, extra: list[str]) -> list[str]:
    """Every consumer ref the back office links to the guest: cached, edited, audited, corrected."""
    refs = set(extra)
    refs |= set(OrderConsumer.objects.filter(guest_ref=guest_ref).values_list("ref", flat=True))
    refs |= set(
        Push.objects.filter(
            Q(loaded__guest_ref=guest_ref) | Q(cdp_values__guest_ref=guest_ref)
        ).values_list("consumer_ref", flat=True)
    )
    refs |= set(
        AuditEntry.objects.filter(subject=guest_ref)
        .exclude(consumer_ref="")
        .values_list("consumer_ref", flat=True)
    )
    refs |= set(
        RectificationItem.objects.filter(job__guest_ref=guest_ref).values_list(
            "consumer_ref", flat=True
        )
    )
    refs.discard("")
    return sorted(refs)


def erasure_plan(*, guest_ref: str, extra_consumer_refs: list[str] | None = None) -> ErasurePlan:
    """Count what forgetting the guest (and these consumers of theirs) would do; change nothing."""
    refs = _person_consumer_refs(guest_ref, extra_consumer_refs or [])
    subjects = {guest_ref, *refs}
    pushes = Push.objects.filter(consumer_ref__in=refs)
    counts = {
        "queued_edits_cancelled": pushes.filter(status__in=Push.WAITING).count(),
        "conflicts_closed": pushes.filter(status=Push.Status.CONFLICT, resolution="").count(),
        "edits_deleted": pushes.count(),
        "approvals_cancelled": 0,
        "bulk_items_cancelled": BulkRefreshItem.objects.filter(
            consumer_ref__in=refs, result=BulkRefreshItem.Result.WAITING
        ).count(),
        "corrections_deleted": Rectification.objects.filter(
            Q(guest_ref=guest_ref) | Q(items__consumer_ref__in=refs)
        )
        .distinct()
        .count(),
        "consumers_deleted": OrderConsumer.objects.filter(ref__in=refs).count(),
        "orders_deleted": Order.objects.filter(
            ref__in=OrderConsumer.objects.filter(ref__in=refs).values("order_ref")
        ).count(),
        "audit_entries_shredded": AuditEntry.objects.filter(subject__in=subjects).count(),
        "audit_keys_shredded": AuditSubjectKey.objects.filter(
            subject__in=subjects, shredded_at__isnull=True
        ).count(),
    }
    return ErasurePlan(guest_ref=guest_ref, consumer_refs=refs, counts=counts)


def _cancel_queued_edits(pushes: list[Push], *, user: User, meta: RequestMeta, ticket: str) -> int:
    """Cancel the waiting edits, each settling its queued audit entry, without personal data."""
    cancelled = 0
    for push in pushes:
        if not Push.objects.filter(pk=push.pk, status__in=Push.WAITING).update(
            status=Push.Status.CANCELLED, finished_at=timezone.now(), next_attempt_at=None
        ):
            continue
        pending = (
            AuditEntry.objects.filter(pk=push.pending_entry_id, superseded_by__isnull=True).first()
            if push.pending_entry_id
            else None
        )
        audit_entry_create(
            user=user,
            meta=meta,
            action=AuditEntry.Action.CANCEL,
            outcome=AuditEntry.Outcome.SUCCEEDED,
            consumer_ref=push.consumer_ref,
            order_ref=push.order_ref,
            reason=f"Not sent: the person was erased (ticket {ticket}).",
            supersedes=pending,
        )
        cancelled += 1
    return cancelled


def erasure_record(
    *,
    guest_ref: str,
    ticket: str,
    cdp_confirmed_on: date,
    user: User,
    meta: RequestMeta,
    extra_consumer_refs: list[str] | None = None,
) -> ErasureRequest:
    """Forget the person everywhere, in one transaction, and audit it (ticket and counts only)."""
    with transaction.atomic():
        plan = erasure_plan(guest_ref=guest_ref, extra_consumer_refs=extra_consumer_refs)
        refs = plan.consumer_refs
        subjects = {guest_ref, *refs}
        now = timezone.now()
        # The do-not-send list first: from the commit on, no call sends anything of theirs, even
        # one a worker is making right now (its write is refused; its read stores nothing).
        ErasedRef.objects.bulk_create(
            [ErasedRef(ref=guest_ref, kind=ErasedRef.Kind.GUEST, erased_at=now, ticket=ticket)]
            + [
                ErasedRef(ref=ref, kind=ErasedRef.Kind.CONSUMER, erased_at=now, ticket=ticket)
                for ref in refs
            ],
            ignore_conflicts=True,
        )
        pushes = Push.objects.filter(consumer_ref__in=refs)
        counts = dict(plan.counts)
        counts["queued_edits_cancelled"] = _cancel_queued_edits(
            list(pushes.filter(status__in=Push.WAITING)), user=user, meta=meta, ticket=ticket
        )
        counts["approvals_cancelled"] = _approvals_delete(set(refs))
        # Queued edits, conflicts and history alike hold the person's values: none is kept.
        counts["edits_deleted"], _ = pushes.delete()
        counts["bulk_items_cancelled"] = BulkRefreshItem.objects.filter(
            consumer_ref__in=refs, result=BulkRefreshItem.Result.WAITING
        ).update(result=BulkRefreshItem.Result.SKIPPED, error="")
        BulkRefreshItem.objects.filter(consumer_ref__in=refs).update(error="")
        corrections = Rectification.objects.filter(
            Q(guest_ref=guest_ref) | Q(items__consumer_ref__in=refs)
        ).distinct()
        counts["corrections_deleted"] = corrections.count()
        RectificationItem.objects.filter(Q(consumer_ref__in=refs) | Q(job__in=corrections)).delete()
        Rectification.objects.filter(pk__in=list(corrections.values_list("pk", flat=True))).delete()
        order_refs = OrderConsumer.objects.filter(ref__in=refs).values_list("order_ref", flat=True)
        counts["orders_deleted"], _ = Order.objects.filter(ref__in=list(order_refs)).delete()
        counts["consumers_deleted"], _ = OrderConsumer.objects.filter(ref__in=refs).delete()
        ConsumerView.objects.filter(consumer_ref__in=refs).delete()
        shredded = audit_subjects_shred(subjects=subjects)
        counts["audit_entries_shredded"] = shredded.entries
        counts["audit_keys_shredded"] = shredded.keys
        request = ErasureRequest.objects.create(
            guest_ref=guest_ref,
            ticket=ticket,
            cdp_confirmed_on=cdp_confirmed_on,
            user=user,
            consumer_refs=refs,
            counts=counts,
        )
        entry = audit_entry_create(
            user=user,
            meta=meta,
            action=AuditEntry.Action.ERASURE,
            outcome=AuditEntry.Outcome.SUCCEEDED,
            object_repr=f"Erasure request {request.pk}, ticket {ticket}"[:200],
            reason=erasure_summary(counts, cdp_confirmed_on=cdp_confirmed_on, refs=len(refs)),
        )
        request.audit_entry_id = entry.pk
        request.save(update_fields=["audit_entry_id"])
    logger.info("person erased", extra={"erasure": request.pk, "consumers": len(refs), **counts})
    return request


COUNT_LABELS = {
    "queued_edits_cancelled": "queued edits cancelled",
    "conflicts_closed": "open conflicts closed",
    "edits_deleted": "edits deleted",
    "approvals_cancelled": "approvals cancelled",
    "bulk_items_cancelled": "bulk-refresh items cancelled",
    "corrections_deleted": "corrections deleted",
    "consumers_deleted": "cached consumers deleted",
    "orders_deleted": "cached orders deleted",
    "audit_entries_shredded": "audit entries made unreadable",
    "audit_keys_shredded": "audit keys shredded",
}


def erasure_summary(counts: dict[str, int], *, cdp_confirmed_on: date, refs: int) -> str:
    """The erasure in words for its audit entry: when CDP confirmed it and what was done."""
    done = ", ".join(f"{counts.get(key, 0)} {label}" for key, label in COUNT_LABELS.items())
    return (
        f"CDP confirmed the erasure on {cdp_confirmed_on:%Y-%m-%d}. {refs} order consumer(s) "
        f"and the guest put on the do-not-send list; {done}."
    )
