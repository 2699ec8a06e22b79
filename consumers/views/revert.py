"""Reverting an audited change: a GET that shows what the revert sends, and the POST that does it.

The page stays where supervisors find it, under the audit log (/audit/<pk>/revert/); the audit
entry's page offers it through `revert_offer`, which ConsumersConfig.ready() registers with the
audit app (`audit.contexts`), so the audit app imports nothing of this one.
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from audit.models import AuditEntry
from audit.services import RequestMeta
from cdp.errors import CDPError
from consumers import pushes
from consumers.forms import RevertForm
from consumers.pushes import Outcome, RevertRefused
from consumers.views.common import signed_in_user

can_read_audit = permission_required("audit.view_auditentry", raise_exception=True)
can_revert = permission_required("audit.revert_auditentry", raise_exception=True)


def revert_offer(entry: AuditEntry) -> dict[str, Any]:
    """What an audit entry's page says about reverting it: where, or why it cannot be."""
    # Without asking CDP: the revert page reads CDP and says what changed since.
    return {
        "revert_url": reverse("consumers:revert", args=[entry.pk]),
        "revert_refusal": pushes.revert_refusal(entry=entry) if entry.is_revertible else "",
    }


@require_http_methods(["GET", "POST"])
@login_required
@can_read_audit
@can_revert
def entry_revert(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: show, field by field, the values a revert sends to CDP; POST: revert."""
    entry = get_object_or_404(AuditEntry.objects.prefetch_related("changes"), pk=pk)
    form = RevertForm(request.POST or None)
    if request.method == "GET":
        context: dict[str, Any] = {"entry": entry, "form": form, "preview": None, "refusal": ""}
        try:
            context["preview"] = pushes.consumer_revert_preview(entry=entry)
        except RevertRefused as refusal:
            context["refusal"] = str(refusal)
        except CDPError as error:
            context["refusal"] = f"CDP could not be read, so there is nothing to compare: {error}"
        return render(request, "consumers/entry_revert.html", context)

    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        result = pushes.consumer_revert(
            entry=entry,
            user=signed_in_user(request),
            meta=RequestMeta.from_request(request),
            reason=reason,
        )
    except RevertRefused as refusal:
        messages.error(request, f"Not reverted. {refusal}")
        return redirect("audit:detail", pk=entry.pk)
    except (CDPError, ValidationError) as error:
        text = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
        messages.error(request, f"Not reverted: CDP could not be read or checked. {text}")
        return redirect("audit:detail", pk=entry.pk)

    # The entry the revert wrote (a sent or queued one always writes one).
    written = result.entry or entry
    if result.outcome == Outcome.SUCCEEDED:
        messages.success(request, f"Reverted: CDP holds the old values again ({result.consumer}).")
        return redirect("audit:detail", pk=written.pk)
    if result.outcome == Outcome.PENDING:
        messages.warning(request, pushes.queued_message(result, what="the revert"))
        return redirect("audit:detail", pk=written.pk)
    if result.outcome == Outcome.CONFLICT:
        messages.error(request, "Not reverted: the consumer changed in CDP meanwhile. Try again.")
    else:
        messages.error(request, f"Not reverted: CDP did not save the change. {result.error}")
    return redirect("audit:detail", pk=entry.pk)
