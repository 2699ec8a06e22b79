"""Four-eyes approval, one function per use case: submit, withdraw, approve, reject, expire.

Every step is one audit entry naming the request ("Approval request 12: ..."), and the request
keeps the ids of its entries. An approval sends the change through the same path as an agent's
edit (`consumers.pushes.consumer_push_update`): CDP's record is read afresh, checked against the
version the agent saw (a newer one is a conflict, shown to the approver, never overwritten), and
sent as a whole record. Transitions are claimed with one conditional UPDATE, so of two approvers
(or an approver and the expiry job) exactly one decides, and no approval is sent twice.
"""

import contextlib
import logging
import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Min, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from approvals.models import APPROVE_PERMISSION, ApprovalPolicy, ApprovalRequest, describe_policy
from approvals.tasks import approval_expire_task
from audit.models import AuditEntry
from audit.services import RequestMeta, audit_entry_create
from cdp.errors import CDPError
from consumers import pushes, records
from consumers.models import Notification, OrderConsumer, Push
from consumers.notifications import notification_create
from consumers.pushes import PushResult
from consumers.services import consumer_fetch, consumer_get
from core.tasks import task_enqueue

logger = logging.getLogger(__name__)

# How an approval that sent nothing says why, in the request's comment (and its outcome).
NOT_SENT = "Approved, but nothing was sent: "


class ApprovalRefused(Exception):
    """The step cannot be taken; the message says why, for the person who tried."""


# --- the policy ---------------------------------------------------------------------------------


def approval_policy_get() -> ApprovalPolicy:
    """Return the policy, creating it with the defaults (Guest and Order items, 24 hours)."""
    policy = ApprovalPolicy.objects.select_related("group").filter(pk=1).first()
    if policy is None:
        policy, _ = ApprovalPolicy.objects.get_or_create(pk=1)
    return policy


def approval_policy_save(*, policy: ApprovalPolicy, user: User, meta: RequestMeta) -> None:
    """Save the administrators' change of the policy, as a new version, and audit it."""
    before = ApprovalPolicy.objects.filter(pk=policy.pk).first()
    with transaction.atomic():
        policy.version = (before.version + 1) if before else 1
        policy.updated_by = user
        policy.save()
        old, new = (before.snapshot() if before else {}), policy.snapshot()
        audit_entry_create(
            user=user,
            meta=meta,
            action=AuditEntry.Action.APPROVAL_POLICY,
            outcome=AuditEntry.Outcome.SUCCEEDED,
            object_repr=f"Approval policy, version {policy.version}",
            changes={
                key: (_policy_text(old.get(key)), _policy_text(new[key]))
                for key in ("fields", "group", "expiry_hours", "supervisors_exempt")
                if old.get(key) != new[key]
            },
        )


def _policy_text(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(records.label(name) for name in value)
    return "" if value is None else str(value)


def may_approve(user: User) -> bool:
    """Say whether the user approves or rejects other people's requests (supervisors do)."""
    return user.is_active and user.has_perm(APPROVE_PERMISSION)


def held_fields(*, policy: ApprovalPolicy, user: User, changes: dict) -> dict[str, str]:
    """Return {field: why it waits} for the changes the policy holds for the user's approval."""
    if policy.supervisors_exempt and may_approve(user):
        return {}
    snapshot = policy.snapshot()
    group = snapshot["group"]
    if group and user.groups.filter(name=group).exists():
        return dict.fromkeys(changes, f"every change by members of {group} needs approval")
    return {
        name: f"changing the {records.label(name).lower()} needs approval"
        for name in changes
        if name in snapshot["fields"]
    }


def policy_notices(*, user: User) -> list[str]:
    """Say what of the user's edits would wait for approval, for the edit form."""
    policy = approval_policy_get()
    if policy.supervisors_exempt and may_approve(user):
        return []
    snapshot = policy.snapshot()
    if snapshot["group"] and user.groups.filter(name=snapshot["group"]).exists():
        return [
            f"Every change you save waits for a supervisor's approval (the policy covers members "
            f"of {snapshot['group']}); give a reason, the approver reads it."
        ]
    notices = [
        f"Changing the {records.label(name).lower()} needs a supervisor's approval: the change "
        "waits until another person approves it, and your other changes are sent at once."
        for name in snapshot["fields"]
    ]
    if notices and may_approve(user):
        notices.append("Your own changes to these fields need another supervisor's approval.")
    return notices


# --- audit --------------------------------------------------------------------------------------


def _audit(
    request: ApprovalRequest,
    action: str,
    *,
    user: User | None,
    meta: RequestMeta,
    reason: str,
    username: str = "",
) -> AuditEntry:
    return audit_entry_create(
        user=user,
        meta=meta,
        action=action,
        outcome=AuditEntry.Outcome.SUCCEEDED,
        consumer_ref=request.consumer_ref,
        order_ref=request.order_ref,
        object_repr=request.object_repr,
        changes={
            name: (records.audit_text(old), records.audit_text(new))
            for name, (old, new) in request.changes.items()
        },
        reason=reason,
        username=username,
        # The person the request is about, as for an edit's entries (consumers.pushes
        # .audit_subject): their names and the free-text reasons are sealed under their key, so
        # an erasure leaves these steps unreadable too.
        subject=str(request.base_values.get("guest_ref") or request.consumer_ref),
    )


def _asker(request: ApprovalRequest) -> str:
    return request.requested_by.get_username() if request.requested_by else "(deleted user)"


# --- submit and withdraw -------------------------------------------------------------------------


def approval_submit(
    *,
    consumer: OrderConsumer,
    changes: dict[str, tuple],
    base_values: dict,
    base_modified_at: datetime | None,
    held: dict[str, str],
    user: User,
    meta: RequestMeta,
    reason: str,
) -> ApprovalRequest:
    """Submit changes for approval against the version the agent saw; nothing goes to CDP.

    `changes` is {field: (as seen, proposed)}; `held`, why the policy holds each.
    """
    if not reason.strip():
        raise ValidationError({"reason": "Say why you make this change: the approver reads it."})
    if not changes:
        raise ValidationError("There is no change to submit for approval.")
    policy = approval_policy_get()
    now = timezone.now()
    with transaction.atomic():
        request = ApprovalRequest.objects.create(
            consumer_ref=consumer.ref,
            order_ref=consumer.order_ref,
            object_repr=str(consumer)[:200],
            requested_by=user,
            reason=reason,
            created_at=now,
            expires_at=now + timedelta(hours=policy.expiry_hours),
            base_values=base_values,
            base_modified_at=base_modified_at,
            changes={name: list(pair) for name, pair in changes.items()},
            held_because=held,
            policy=policy.snapshot(),
        )
        entry = _audit(
            request,
            AuditEntry.Action.APPROVAL_SUBMITTED,
            user=user,
            meta=meta,
            reason=f"Approval request {request.pk}: {reason}",
        )
        request.submitted_entry_id = entry.pk
        request.save(update_fields=["submitted_entry_id"])
        # The worker closes it at its expiry; the periodic job (expire_approvals) catches any
        # whose task was lost.
        task_enqueue(approval_expire_task, request.pk, run_after=request.expires_at)
    logger.info("approval request %s for consumer %s submitted", request.pk, consumer.ref)
    return request


def approval_withdraw(*, request: ApprovalRequest, user: User, meta: RequestMeta) -> AuditEntry:
    """Withdraw a request that waits: only the agent who asked may."""
    if not request.asked_by(user):
        raise ApprovalRefused("Only the person who asked for a change may withdraw it.")
    _refuse_if_expired(request)
    with transaction.atomic():
        entry = _close(
            request,
            ApprovalRequest.Status.WITHDRAWN,
            AuditEntry.Action.APPROVAL_WITHDRAWN,
            user=user,
            meta=meta,
            reason=f"Approval request {request.pk} withdrawn by who asked for it.",
        )
        # Their own doing: nothing to tell them about it.
        ApprovalRequest.objects.filter(pk=request.pk).update(outcome_seen_at=timezone.now())
    return entry


def _refusal_for_closed(request: ApprovalRequest) -> str:
    """Say what became of a request nobody can decide on any more."""
    request.refresh_from_db()
    who = request.decided_by.get_username() if request.decided_by else ""
    when = f" at {request.decided_at:%Y-%m-%d %H:%M} UTC" if request.decided_at else ""
    by = f" by {who}" if who else ""
    texts: dict[str, str] = {
        ApprovalRequest.Status.APPROVING: f"It is being approved{by} right now.",
        ApprovalRequest.Status.APPROVED: f"It was already approved{by}{when}.",
        ApprovalRequest.Status.REJECTED: f"It was already rejected{by}{when}.",
        ApprovalRequest.Status.WITHDRAWN: f"It was withdrawn{when}.",
        ApprovalRequest.Status.EXPIRED: f"It expired at {request.expires_at:%Y-%m-%d %H:%M} UTC.",
        # Past its expiry a moment ago; the worker or the periodic job closes it.
        ApprovalRequest.Status.WAITING: f"It expired at {request.expires_at:%Y-%m-%d %H:%M} UTC.",
    }
    return f"Request {request.pk} is not waiting any more: " + texts.get(
        request.status, request.get_status_display()
    )


def _claim(request: ApprovalRequest, status: str, *, user: User | None, comment: str = "") -> None:
    """Move a waiting, unexpired request on to `status`, unless someone else moved it first."""
    now = timezone.now()
    claimed = ApprovalRequest.objects.filter(
        pk=request.pk, status=ApprovalRequest.Status.WAITING, expires_at__gt=now
    ).update(status=status, decided_by=user, decided_at=now, comment=comment)
    if not claimed:
        raise ApprovalRefused(_refusal_for_closed(request))
    request.status, request.decided_by, request.decided_at, request.comment = (
        status,
        user,
        now,
        comment,
    )


def _close(
    request: ApprovalRequest,
    status: str,
    action: str,
    *,
    user: User,
    meta: RequestMeta,
    reason: str,
    comment: str = "",
) -> AuditEntry:
    _claim(request, status, user=user, comment=comment)
    entry = _audit(request, action, user=user, meta=meta, reason=reason)
    ApprovalRequest.objects.filter(pk=request.pk).update(decided_entry_id=entry.pk)
    request.decided_entry_id = entry.pk
    return entry


# --- decide -------------------------------------------------------------------------------------


def _refuse_to_decide(request: ApprovalRequest, user: User) -> None:
    if not may_approve(user):
        raise ApprovalRefused("Only a supervisor may approve or reject a change.")
    if request.asked_by(user):
        raise ApprovalRefused(
            "You asked for this change yourself: another supervisor approves or rejects it."
        )
    _refuse_if_expired(request)


def _refuse_if_expired(request: ApprovalRequest) -> None:
    """Close a request found past its expiry, and refuse the step; call it outside a transaction."""
    if request.status == ApprovalRequest.Status.WAITING and request.expires_at <= timezone.now():
        approval_expire(request=request)
        raise ApprovalRefused(
            f"Request {request.pk} expired at {request.expires_at:%Y-%m-%d %H:%M} UTC, so it "
            "can no longer be approved or withdrawn; the agent may ask again."
        )


def approval_reject(
    *, request: ApprovalRequest, user: User, meta: RequestMeta, comment: str
) -> AuditEntry:
    """Reject a waiting request, saying why; nothing goes to CDP."""
    _refuse_to_decide(request, user)
    if not comment.strip():
        raise ValidationError({"comment": "Say why you reject it: the agent reads your comment."})
    with transaction.atomic():
        entry = _close(
            request,
            ApprovalRequest.Status.REJECTED,
            AuditEntry.Action.APPROVAL_REJECTED,
            user=user,
            meta=meta,
            reason=f"Approval request {request.pk} rejected: {comment}",
            comment=comment,
        )
        approval_notify_outcome(request=request)
    logger.info("approval request %s rejected", request.pk)
    return entry


@dataclass
class Approval:
    """What approving did: the decision's audit entry, and the push that carried it to CDP."""

    request: ApprovalRequest
    entry: AuditEntry | None
    result: PushResult | None = None
    # Why nothing was sent although it was approved (a link CDP no longer resolves).
    error: str = ""


def approval_approve(
    *, request: ApprovalRequest, user: User, meta: RequestMeta, comment: str = ""
) -> Approval:
    """Approve a waiting request and send it to CDP through the edit's path.

    Refuses (ApprovalRefused) self-approval, a request decided, withdrawn or expired, and one
    whose new links CDP no longer resolves (ValidationError; it stays waiting). A conflict with
    a newer version in CDP comes back in the result: nothing is sent, the approver decides.
    """
    _refuse_to_decide(request, user)
    # Before deciding: a request whose guest CDP no longer has cannot be approved, only rejected.
    # When CDP cannot check now, the push checks before it sends, or queues.
    with contextlib.suppress(CDPError):
        pushes.push_links_check(order_ref=request.order_ref, changes=request.changes)
    with transaction.atomic():
        _claim(request, ApprovalRequest.Status.APPROVING, user=user, comment=comment)
        note = f" Approver's note: {comment}" if comment.strip() else ""
        entry = _audit(
            request,
            AuditEntry.Action.APPROVAL_APPROVED,
            user=user,
            meta=meta,
            reason=f"Approval request {request.pk}, asked by {_asker(request)}: "
            f"{request.reason}{note}",
        )
        ApprovalRequest.objects.filter(pk=request.pk).update(decided_entry_id=entry.pk)
        request.decided_entry_id = entry.pk
    logger.info("approval request %s approved; sending it to CDP", request.pk)
    return _send(request, entry=entry, user=user, meta=meta)


def _send(
    request: ApprovalRequest, *, entry: AuditEntry | None, user: User, meta: RequestMeta
) -> Approval:
    """Push an approved request to CDP, as an edit by the approver of the version the agent saw."""
    error = ""
    result = None
    try:
        consumer = consumer_get(ref=request.consumer_ref)
        result = pushes.consumer_push_update(
            consumer=consumer,
            data=request.proposed_values,
            loaded_values=request.base_values,
            loaded_modified_at=request.base_modified_at,
            user=user,
            meta=meta,
            reason=f"Approved request {request.pk} (asked by {_asker(request)}): {request.reason}",
        )
    except ValidationError as refused:
        error = NOT_SENT + "; ".join(refused.messages)
    except CDPError as failed:  # the consumer is not cached and CDP cannot hand it over
        error = f"{NOT_SENT}{failed}"
    fields = ["status"]
    request.status = ApprovalRequest.Status.APPROVED
    if result is not None and result.push is not None:
        request.push_id = result.push.pk
        request.push_entry_id = result.entry.pk if result.entry else None
        fields += ["push_id", "push_entry_id"]
    if error:
        request.comment = f"{request.comment}\n{error}".strip()
        fields.append("comment")
    with transaction.atomic():
        ApprovalRequest.objects.filter(pk=request.pk).update(
            **{name: getattr(request, name) for name in fields}
        )
        approval_notify_outcome(request=request, push=result.push if result else None)
    return Approval(request=request, entry=entry, result=result, error=error)


# --- expire -------------------------------------------------------------------------------------


def approval_expire(*, request: ApprovalRequest) -> AuditEntry | None:
    """Close a waiting request past its expiry; None if it was not waiting or not due."""
    now = timezone.now()
    with transaction.atomic():
        closed = ApprovalRequest.objects.filter(
            pk=request.pk, status=ApprovalRequest.Status.WAITING, expires_at__lte=now
        ).update(status=ApprovalRequest.Status.EXPIRED, decided_at=now)
        if not closed:
            return None
        request.status, request.decided_at = ApprovalRequest.Status.EXPIRED, now
        hours = request.policy.get("expiry_hours", "")
        entry = _audit(
            request,
            AuditEntry.Action.APPROVAL_EXPIRED,
            user=None,
            meta=RequestMeta(),
            reason=f"Approval request {request.pk} expired: nobody decided on it within "
            f"{hours} hours.",
            username="(expiry)",
        )
        ApprovalRequest.objects.filter(pk=request.pk).update(decided_entry_id=entry.pk)
        request.decided_entry_id = entry.pk
        approval_notify_outcome(request=request)
    logger.info("approval request %s expired", request.pk)
    return entry


def approvals_expire() -> int:
    """Close every waiting request past its expiry; return how many."""
    due = ApprovalRequest.objects.filter(
        status=ApprovalRequest.Status.WAITING, expires_at__lte=timezone.now()
    )
    return sum(1 for request in due if approval_expire(request=request) is not None)


def approvals_resume_stuck() -> int:
    """Send the approvals a crash left between the decision and the push; return how many.

    An approval is *approving* only while its push is being made; one older than the push lock
    lasts was cut short. If its push row exists it is linked (the queue delivers it); else the
    push is made now, through the same checks, as the approver.
    """
    stale = timezone.now() - timedelta(seconds=settings.PUSH_LOCK_SECONDS * 2)
    stuck = ApprovalRequest.objects.filter(
        status=ApprovalRequest.Status.APPROVING, decided_at__lt=stale
    ).select_related("decided_by", "requested_by")
    resumed = 0
    for request in stuck:
        push = (
            Push.objects.filter(
                consumer_ref=request.consumer_ref,
                user=request.decided_by,
                created_at__gte=request.decided_at,
                reason__startswith=f"Approved request {request.pk} ",
            )
            .order_by("pk")
            .first()
        )
        if push is not None:
            ApprovalRequest.objects.filter(pk=request.pk).update(
                status=ApprovalRequest.Status.APPROVED, push_id=push.pk
            )
        else:
            entry = AuditEntry.objects.filter(pk=request.decided_entry_id or 0).first()
            user = request.decided_by
            if user is None:
                continue  # the approver's account is gone: it waits for a person (admin)
            _send(request, entry=entry, user=user, meta=RequestMeta())
        resumed += 1
    return resumed


# --- reading ------------------------------------------------------------------------------------


def approval_get(*, pk: int, user: User) -> ApprovalRequest:
    """Return a request the user may open: theirs, or any for a supervisor; else DoesNotExist."""
    requests = ApprovalRequest.objects.select_related("requested_by", "decided_by")
    if not may_approve(user):
        requests = requests.filter(requested_by=user)
    return requests.get(pk=pk)


def approvals_waiting(*, field: str = "", agent: str = "") -> QuerySet[ApprovalRequest]:
    """Return the requests waiting for a decision, oldest first, filtered by field and agent."""
    requests = ApprovalRequest.objects.waiting().select_related("requested_by")
    if field:
        requests = requests.filter(changes__has_key=field)
    if agent:
        requests = requests.filter(requested_by__username=agent)
    return requests.order_by("created_at", "pk")


def approvals_badges(*, user: User) -> dict[str, int]:
    """Count, in one query, the requests waiting for the user's decision (if they decide) and
    their own requests with news; every page's navigation shows both."""
    news = Q(requested_by=user, outcome_seen_at__isnull=True) & ~Q(status__in=ApprovalRequest.OPEN)
    wanted = {"news": Count("id", filter=news)}
    if may_approve(user):
        wanted["waiting"] = Count("id", filter=Q(status=ApprovalRequest.Status.WAITING))
    counts = ApprovalRequest.objects.filter(
        Q(status=ApprovalRequest.Status.WAITING)
        | Q(requested_by=user, outcome_seen_at__isnull=True)
    ).aggregate(**wanted)
    return {"waiting": counts.get("waiting") or 0, "news": counts["news"] or 0}


def approvals_waiting_count() -> int:
    """Count the requests waiting for a decision (the navigation's badge)."""
    return ApprovalRequest.objects.waiting().count()


def approvals_of_consumer(*, ref: str) -> list[ApprovalRequest]:
    """Return the consumer's requests still waiting, oldest first."""
    return list(
        ApprovalRequest.objects.filter(consumer_ref=ref, status__in=ApprovalRequest.OPEN)
        .select_related("requested_by")
        .order_by("created_at", "pk")
    )


@dataclass
class ApprovalPage:
    """A request's versions side by side: CDP's now, the one the agent saw, the one proposed."""

    request: ApprovalRequest
    # One row per editable field: {"label", "now", "seen", "proposed", "changed", "moved"}.
    rows: list[dict]
    consumer: OrderConsumer | None
    # CDP changed the consumer since the agent saw it: approving meets a conflict.
    changed_since: bool
    # The policy now, when it is not the one the request was made under.
    policy_now: str = ""
    push: Push | None = None
    # Why CDP's version is the cached one rather than read just now.
    error: CDPError | None = None


def approval_page(*, request: ApprovalRequest) -> ApprovalPage:
    """Return what a request's page compares; an open request reads CDP's record afresh."""
    consumer: OrderConsumer | None
    error = None
    if request.is_open:
        try:
            consumer = consumer_fetch(ref=request.consumer_ref)
        except CDPError as failed:
            error = failed
            consumer = OrderConsumer.objects.filter(ref=request.consumer_ref).first()
    else:
        consumer = OrderConsumer.objects.filter(ref=request.consumer_ref).first()
    now = consumer.editable_values() if consumer else {}
    proposed = request.proposed_values
    rows = []
    for name in records.NAMES:
        seen = request.base_values.get(name, records.empty(name))
        rows.append(
            {
                "field": name,
                "label": records.label(name),
                "now": records.display_text(now.get(name)),
                "seen": records.display_text(seen),
                "proposed": records.display_text(proposed.get(name)),
                "changed": name in request.changes,
                # CDP holds another value than the agent saw.
                "moved": name in now and not records.same_value(name, now[name], seen),
            }
        )
    changed_since = bool(
        consumer and request.is_open and consumer.cdp_modified_at != request.base_modified_at
    )
    policy = approval_policy_get()
    policy_now = ""
    if policy.version != request.policy.get("version"):
        policy_now = describe_policy(policy.snapshot())
    push = Push.objects.filter(pk=request.push_id).first() if request.push_id else None
    return ApprovalPage(request, rows, consumer, changed_since, policy_now, push, error)


def approval_figures(*, date_from: date, date_to: date) -> dict:
    """For the dashboard: requests waiting now, and the median time to a decision in the range."""
    waiting = ApprovalRequest.objects.waiting().aggregate(n=Count("id"), oldest=Min("created_at"))
    start = datetime.combine(date_from, time.min, tzinfo=UTC)
    end = (
        datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC)
        if date_to < date.max
        else datetime.max.replace(tzinfo=UTC)
    )
    decided = ApprovalRequest.objects.filter(
        Q(status=ApprovalRequest.Status.APPROVED) | Q(status=ApprovalRequest.Status.REJECTED),
        decided_at__gte=start,
        decided_at__lt=end,
    ).values_list("created_at", "decided_at")[:20_000]
    durations = sorted(
        (decided_at - created).total_seconds() for created, decided_at in decided if decided_at
    )
    median = timedelta(seconds=statistics.median(durations)) if durations else None
    return {
        "waiting": waiting["n"],
        "oldest": waiting["oldest"],
        "decided": len(durations),
        "median_to_decision": median,
        "median_text": duration_text(median) if median is not None else "—",
    }


def duration_text(duration: timedelta) -> str:
    """Say how long something took, to the minute past an hour: "45 s", "12 min", "2 h 05 min"."""
    seconds = int(duration.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


# --- what the agent is told ---------------------------------------------------------------------


def outcome_text(
    request: ApprovalRequest, push: Push | None = None, *, viewer: User | None = None
) -> str:
    """Say what became of a request, in one sentence, to who asked (or to `viewer`)."""
    fields = ", ".join(records.label(name) for name in request.changes)
    who = request.decided_by.get_username() if request.decided_by else "a supervisor"
    whose = "Your" if viewer is None or request.asked_by(viewer) else f"{_asker(request)}'s"
    head = f"{whose} change of {fields} for {request.object_repr or request.consumer_ref}"
    if request.status == ApprovalRequest.Status.REJECTED:
        return f"{head} was rejected by {who}: {request.comment}"
    if request.status == ApprovalRequest.Status.EXPIRED:
        return f"{head} expired: nobody decided on it in time. Ask again if it is still needed."
    if request.status == ApprovalRequest.Status.WITHDRAWN:
        return f"{head} was withdrawn."
    if request.status in ApprovalRequest.OPEN:
        return f"{head} awaits approval."
    if push is None and NOT_SENT in request.comment:
        why = request.comment.split(NOT_SENT, 1)[1]
        return f"{head} was approved by {who}, but nothing was sent to CDP: {why}"
    if push is None or push.status == Push.Status.SUCCEEDED:
        return f"{head} was approved by {who} and saved to CDP."
    if push.status == Push.Status.CONFLICT:
        return (
            f"{head} was approved by {who}, but CDP had changed since "
            f"{'you' if whose == 'Your' else _asker(request)} saw it, so nothing was sent; the "
            "approver decides on re-applying it."
        )
    if push.status in Push.WAITING:
        return f"{head} was approved by {who} and is queued for CDP."
    return f"{head} was approved by {who}, but CDP did not save it: {push.error}"


def _outcome_level(request: ApprovalRequest, push: Push | None) -> str:
    if request.status == ApprovalRequest.Status.APPROVED:
        if push is None:
            failed = NOT_SENT in request.comment
            return Notification.Level.ERROR if failed else Notification.Level.SUCCESS
        levels: dict[str, str] = {
            Push.Status.SUCCEEDED: Notification.Level.SUCCESS,
            Push.Status.CONFLICT: Notification.Level.WARNING,
            Push.Status.PENDING: Notification.Level.INFO,
            Push.Status.SENDING: Notification.Level.INFO,
        }
        return levels.get(push.status, Notification.Level.ERROR)
    return Notification.Level.WARNING  # rejected or expired: the change did not happen


def approval_notify_outcome(*, request: ApprovalRequest, push: Push | None = None) -> None:
    """Tell who asked, on their next page, what became of their request (or of its push)."""
    notification_create(
        user=request.requested_by,
        message=outcome_text(request, push),
        url=reverse("approvals:detail", kwargs={"pk": request.pk}),
        level=_outcome_level(request, push),
        kind="approval",
    )


def approval_of_push(*, push: Push) -> ApprovalRequest | None:
    """Return the approved request whose change `push` carried to CDP, if it carried one."""
    requests = ApprovalRequest.objects.select_related("requested_by", "decided_by")
    found = requests.filter(push_id=push.pk).first()
    if found is None and push.reason.startswith("Approved request "):
        # The queue may settle the push before the approval linked it (its first try can be
        # due at once): the push's reason names the request, made by its approver.
        number = push.reason.removeprefix("Approved request ").split(" ", 1)[0]
        if number.isdigit():
            found = requests.filter(
                pk=int(number),
                consumer_ref=push.consumer_ref,
                decided_by_id=push.user_id,
                status__in=[ApprovalRequest.Status.APPROVING, ApprovalRequest.Status.APPROVED],
            ).first()
    return found


def _decided_for(user: User) -> QuerySet[ApprovalRequest]:
    return ApprovalRequest.objects.filter(requested_by=user).exclude(
        status__in=ApprovalRequest.OPEN
    )


def approvals_of_user(*, user: User, limit: int = 100) -> list[tuple[ApprovalRequest, str]]:
    """Return the user's own requests, newest first, each with what became of it."""
    requests = list(
        ApprovalRequest.objects.filter(requested_by=user)
        .select_related("requested_by", "decided_by")
        .order_by("-created_at", "-pk")[:limit]
    )
    pushed = Push.objects.in_bulk([r.push_id for r in requests if r.push_id])
    return [
        (request, outcome_text(request, pushed.get(request.push_id or 0))) for request in requests
    ]


def approvals_unseen_outcomes(*, user: User) -> int:
    """Count the user's requests decided, withdrawn or expired since they last looked."""
    return _decided_for(user).filter(outcome_seen_at__isnull=True).count()


def approvals_outcomes_seen(*, user: User) -> None:
    """Note that the user has seen what became of their requests."""
    _decided_for(user).filter(outcome_seen_at__isnull=True).update(outcome_seen_at=timezone.now())


def approval_outcome_seen(*, request: ApprovalRequest) -> None:
    """Note that who asked has seen what became of the request."""
    ApprovalRequest.objects.filter(pk=request.pk, outcome_seen_at__isnull=True).exclude(
        status__in=ApprovalRequest.OPEN
    ).update(outcome_seen_at=timezone.now())
