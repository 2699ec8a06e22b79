import csv
from datetime import UTC, datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from audit import services
from audit.contexts import entry_context
from audit.forms import AuditFilterForm, AuditPageForm
from audit.labels import field_label
from audit.models import AuditEntry

PAGE_SIZE = 50
can_read = permission_required("audit.view_auditentry", raise_exception=True)


def _page(
    entries: QuerySet[AuditEntry], *, before: int | None, after: int | None
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
def entry_list(request: HttpRequest, status: int = 200) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    pages = AuditPageForm(request.GET)
    before, after = pages.cursors()
    rows: list[AuditEntry] = []
    older = newer = None
    if not form.is_bound or form.is_valid():  # bad filters list nothing, not the whole log
        entries = services.audit_entry_search(filters=form.filters())
        entries = entries.select_related("supersedes").prefetch_related("changes")
        rows, older, newer = _page(entries, before=before, after=after)
        rows = services.audit_entries_reveal(rows)
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
        "record": entry.record_text or entry.consumer_ref,
        "changes": [
            (field_label(c.field), c.old_text or "(empty)", c.new_text or "(empty)")
            for c in entry.changes.all()
        ],
        "reason": entry.reason_text,
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
def entry_export(request: HttpRequest) -> HttpResponseBase:
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
def entry_detail(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(
        AuditEntry.objects.select_related("reverts").prefetch_related("changes"), pk=pk
    )
    services.audit_entries_reveal([entry])
    context = {
        "entry": entry,
        "reverted_by": AuditEntry.objects.filter(reverts=entry).order_by("sequence"),
        # The apps that act on entries say what the page shows about that: consumers where to
        # revert the change, or why it cannot be (without asking CDP).
        **entry_context(entry),
    }
    return render(request, "audit/entry_detail.html", context)
