import csv
from datetime import UTC, datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from audit import services
from audit.forms import AuditFilterForm, AuditPageForm, RevertForm
from audit.labels import field_label
from audit.models import AuditEntry
from audit.services import RequestMeta
from cdp.errors import CDPError
from consumers.pushes import (
    Outcome,
    RevertRefused,
    consumer_revert,
    consumer_revert_preview,
    queued_message,
    revert_refusal,
)

PAGE_SIZE = 50
can_read = permission_required("audit.view_auditentry", raise_exception=True)
can_revert = permission_required("audit.revert_auditentry", raise_exception=True)


def _page(
    entries, *, before: int | None, after: int | None
) -> tuple[list[AuditEntry], int | None, int | None]:
    """Return one page of entries, newest first, and the cursors of the older and newer pages.

    Pages are cut by sequence number rather than counted, so page 1 and page 10,000 cost the same.
    """
    if after is not None:
        rows = list(entries.filter(sequence__gt=after).order_by("sequence")[: PAGE_SIZE + 1])
        has_newer, rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE][::-1]
        has_older = bool(rows) and entries.filter(sequence__lt=rows[-1].sequence).exists()
    else:
        if before is not None:
            entries = entries.filter(sequence__lt=before)
        rows = list(entries[: PAGE_SIZE + 1])
        has_older, rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
        has_newer = before is not None
    older = rows[-1].sequence if rows and has_older else None
    newer = rows[0].sequence if rows and has_newer else None
    return rows, older, newer


@require_GET
@login_required
@can_read
def entry_list(request, status: int = 200):
    form = AuditFilterForm(request.GET or None)
    pages = AuditPageForm(request.GET)
    before, after = pages.cursors()
    rows: list[AuditEntry] = []
    older = newer = None
    if not form.is_bound or form.is_valid():  # bad filters list nothing, not the whole log
        entries = services.audit_entry_search(filters=form.filters())
        entries = entries.select_related("supersedes").prefetch_related("changes")
        rows, older, newer = _page(entries, before=before, after=after)
    query = request.GET.copy()
    for cursor in ("before", "after"):
        query.pop(cursor, None)
    context = {
        "form": form,
        "page_error": pages.error_messages["broken"] if not pages.is_valid() else "",
        "entries": [_row(entry) for entry in rows],
        "older": older,
        "newer": newer,
        "query": query.urlencode(),
        # Links built from a prefix: reversing a URL for each of fifty lines costs more.
        "detail_prefix": reverse("audit:detail", args=[0]).removesuffix("0/"),
        "consumer_prefix": reverse("consumers:detail", args=["x"]).removesuffix("x/"),
    }
    return render(request, "audit/entry_list.html", context, status=status)


_ACTIONS = dict(AuditEntry.Action.choices)
_OUTCOMES = dict(AuditEntry.Outcome.choices)


def _row(entry: AuditEntry) -> dict:
    """Everything one line of the list shows, worked out here: the list is read all day long."""
    return {
        "pk": entry.pk,
        "sequence": entry.sequence,
        "time": entry.action_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "username": entry.username,
        "ip_address": entry.ip_address or "",
        "action": _ACTIONS.get(entry.action, entry.action),
        "consumer_ref": entry.consumer_ref,
        "record": entry.object_repr or entry.consumer_ref,
        "changes": [
            (field_label(c.field), c.old_value or "(empty)", c.new_value or "(empty)")
            for c in entry.changes.all()
        ],
        "reason": entry.reason,
        # The queued entry this one settles (delivered, failed, conflict or cancelled).
        "settles": (entry.supersedes.pk, entry.supersedes.sequence) if entry.supersedes else None,
        "outcome": _OUTCOMES.get(entry.outcome, entry.outcome),
        "badge": entry.outcome_badge,
        "cdp_status": entry.cdp_status,
    }


class _Echo:
    """A file-like object whose write() hands the line back, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


@require_GET
@login_required
@can_read
def entry_export(request):
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        # The list shows what is wrong with the filters; an export of everything would not.
        messages.error(request, "Not exported: correct the filters first.")
        return entry_list(request, status=400)
    entries = services.audit_entry_search(filters=form.filters())
    writer = csv.writer(_Echo())
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in services.audit_export_rows(entries)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response


@require_GET
@login_required
@can_read
def entry_detail(request, pk: int):
    entry = get_object_or_404(
        AuditEntry.objects.select_related("reverts").prefetch_related("changes"), pk=pk
    )
    # Revert is offered only when it could be done; else the page says why not (without CDP).
    refusal = revert_refusal(entry=entry) if entry.is_revertible else ""
    context = {
        "entry": entry,
        "reverted_by": AuditEntry.objects.filter(reverts=entry).order_by("sequence"),
        "revert_refusal": refusal,
    }
    return render(request, "audit/entry_detail.html", context)


@require_http_methods(["GET", "POST"])
@login_required
@can_read
@can_revert
def entry_revert(request, pk: int):
    """GET: show, field by field, the values a revert sends to CDP; POST: revert."""
    entry = get_object_or_404(AuditEntry.objects.prefetch_related("changes"), pk=pk)
    form = RevertForm(request.POST or None)
    if request.method == "GET":
        context = {"entry": entry, "form": form, "preview": None, "refusal": ""}
        try:
            context["preview"] = consumer_revert_preview(entry=entry)
        except RevertRefused as refusal:
            context["refusal"] = str(refusal)
        except CDPError as error:
            context["refusal"] = f"CDP could not be read, so there is nothing to compare: {error}"
        return render(request, "audit/entry_revert.html", context)

    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        result = consumer_revert(
            entry=entry, user=request.user, meta=RequestMeta.from_request(request), reason=reason
        )
    except RevertRefused as refusal:
        messages.error(request, f"Not reverted. {refusal}")
        return redirect("audit:detail", pk=entry.pk)
    except (CDPError, ValidationError) as error:
        text = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
        messages.error(request, f"Not reverted: CDP could not be read or checked. {text}")
        return redirect("audit:detail", pk=entry.pk)

    if result.outcome == Outcome.SUCCEEDED:
        messages.success(request, f"Reverted: CDP holds the old values again ({result.consumer}).")
        return redirect("audit:detail", pk=result.entry.pk)
    if result.outcome == Outcome.PENDING:
        messages.warning(request, queued_message(result, what="the revert"))
        return redirect("audit:detail", pk=result.entry.pk)
    if result.outcome == Outcome.CONFLICT:
        messages.error(request, "Not reverted: the consumer changed in CDP meanwhile. Try again.")
    else:
        messages.error(request, f"Not reverted: CDP did not save the change. {result.error}")
    return redirect("audit:detail", pk=entry.pk)
