"""The approvals pages: supervisors' list and decisions, a request's page, the agent's withdrawal
and their own requests with what became of them."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from approvals import services
from approvals.forms import ApprovalFilterForm, ApproveForm, RejectForm
from approvals.models import APPROVE_PERMISSION, ApprovalRequest
from approvals.services import ApprovalRefused
from audit.models import AuditEntry
from audit.services import RequestMeta
from consumers.pushes import Outcome, queued_message
from consumers.views.common import can_edit, can_view, signed_in_user

can_decide = permission_required(APPROVE_PERMISSION, raise_exception=True)


def _get(request: HttpRequest, pk: int) -> ApprovalRequest:
    """The request if the user asked for it or supervises; else 404, as if it did not exist."""
    try:
        return services.approval_get(pk=pk, user=signed_in_user(request))
    except ApprovalRequest.DoesNotExist:
        raise Http404("No such approval request.") from None


def request_of_entry(entry: AuditEntry) -> dict[str, Any]:
    """What an audit entry's page says about the approval request the entry belongs to."""
    ids = [entry.pk, *([entry.supersedes_id] if entry.supersedes_id else [])]
    found = (
        ApprovalRequest.objects.filter(
            Q(submitted_entry_id__in=ids) | Q(decided_entry_id__in=ids) | Q(push_entry_id__in=ids)
        )
        .only("pk")
        .first()
    )
    if found is None:
        return {}
    return {
        "approval_request_id": found.pk,
        "approval_request_url": reverse("approvals:detail", kwargs={"pk": found.pk}),
    }


@require_GET
@login_required
@can_decide
def approval_list(request: HttpRequest) -> HttpResponse:
    """The requests waiting for a decision, oldest first, filtered by field and agent."""
    waiting = services.approvals_waiting()
    agents = sorted(
        {name for name in waiting.values_list("requested_by__username", flat=True) if name}
    )
    form = ApprovalFilterForm(request.GET or None, agents=agents)
    if form.is_bound and form.is_valid():
        waiting = services.approvals_waiting(
            field=form.cleaned_data["field"], agent=form.cleaned_data["agent"]
        )
    elif form.is_bound:
        waiting = waiting.none()
    context = {"form": form, "requests": list(waiting[:200]), "user_id": signed_in_user(request).pk}
    return render(request, "approvals/approval_list.html", context)


def _render_detail(
    request: HttpRequest,
    approval: ApprovalRequest,
    *,
    reject_form: RejectForm | None = None,
    approve_form: ApproveForm | None = None,
) -> HttpResponse:
    user = signed_in_user(request)
    page = services.approval_page(request=approval)
    context = {
        "page": page,
        "approval": approval,
        "may_decide": approval.status == ApprovalRequest.Status.WAITING
        and services.may_approve(user)
        and not approval.asked_by(user)
        and not approval.is_expired,
        "asked_by_viewer": approval.asked_by(user),
        "reject_form": reject_form or RejectForm(),
        "approve_form": approve_form or ApproveForm(),
        "outcome": services.outcome_text(approval, page.push, viewer=user),
    }
    return render(request, "approvals/approval_detail.html", context)


@require_GET
@login_required
@can_view
def approval_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A request: CDP's record now, the version the agent saw and the proposed change."""
    approval = _get(request, pk)
    if approval.asked_by(signed_in_user(request)) and not approval.is_open:
        services.approval_outcome_seen(request=approval)
    return _render_detail(request, approval)


@require_POST
@login_required
@can_decide
def approval_approve(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve and send the change to CDP, through the same checks as an edit."""
    approval = _get(request, pk)
    form = ApproveForm(request.POST)
    comment = form.cleaned_data["comment"] if form.is_valid() else ""
    try:
        done = services.approval_approve(
            request=approval,
            user=signed_in_user(request),
            meta=RequestMeta.from_request(request),
            comment=comment,
        )
    except ApprovalRefused as refused:
        messages.error(request, str(refused))
        return redirect("approvals:detail", pk=pk)
    except ValidationError as refused:
        messages.error(
            request,
            "Not approved, nothing was sent: "
            + " ".join(refused.messages)
            + " Reject the request, saying why.",
        )
        return redirect("approvals:detail", pk=pk)
    result = done.result
    if done.error or result is None:
        messages.error(request, done.error)
    elif result.outcome == Outcome.SUCCEEDED:
        messages.success(request, f"Approved and saved {result.consumer} to CDP.")
    elif result.outcome == Outcome.PENDING:
        messages.warning(request, "Approved. " + queued_message(result, what="the change"))
    elif result.outcome == Outcome.CONFLICT and result.push is not None:
        messages.warning(
            request,
            "Approved, but nothing was sent: CDP changed this consumer after "
            f"{approval.requested_by or 'the agent'} saw it. Compare the versions, then re-apply "
            "the approved change to CDP's version or discard it.",
        )
        return redirect("consumers:conflict", ref=approval.consumer_ref, push_id=result.push.pk)
    elif result.outcome == Outcome.UNCHANGED:
        messages.info(request, "Approved; CDP already held the change, so nothing was sent.")
    else:
        messages.error(request, f"Approved, but CDP did not save the change. {result.error}")
    return redirect("approvals:detail", pk=pk)


@require_POST
@login_required
@can_decide
def approval_reject(request: HttpRequest, pk: int) -> HttpResponse:
    """Reject the request with a comment for the agent; nothing goes to CDP."""
    approval = _get(request, pk)
    form = RejectForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, approval, reject_form=form)
    try:
        services.approval_reject(
            request=approval,
            user=signed_in_user(request),
            meta=RequestMeta.from_request(request),
            comment=form.cleaned_data["comment"],
        )
    except ApprovalRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"Rejected request {pk}; nothing was sent to CDP.")
    return redirect("approvals:detail", pk=pk)


@require_POST
@login_required
@can_edit
def approval_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    """Withdraw the agent's own request before anyone decides on it."""
    approval = _get(request, pk)
    try:
        services.approval_withdraw(
            request=approval, user=signed_in_user(request), meta=RequestMeta.from_request(request)
        )
    except ApprovalRefused as refused:
        messages.error(request, str(refused))
        return redirect("approvals:detail", pk=pk)
    messages.success(request, f"Withdrew request {pk}; nothing was sent to CDP.")
    return redirect("consumers:detail", ref=approval.consumer_ref)


@require_GET
@login_required
@can_view
def approvals_mine(request: HttpRequest) -> HttpResponse:
    """The user's own requests, newest first, with what became of each."""
    user = signed_in_user(request)
    rows = services.approvals_of_user(user=user)
    services.approvals_outcomes_seen(user=user)
    return render(request, "approvals/approvals_mine.html", {"rows": rows})
