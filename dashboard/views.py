from datetime import timedelta

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from dashboard.forms import RangeForm, range_presets
from dashboard.services import dashboard_figures


@require_GET
@login_required
@permission_required("audit.view_auditentry", raise_exception=True)
def dashboard(request: HttpRequest) -> HttpResponse:
    today = timezone.now().date()
    date_from, date_to = today - timedelta(days=13), today
    # The fields show the range on show, the default one too.
    form = RangeForm(request.GET or None, initial={"date_from": date_from, "date_to": date_to})
    if form.is_bound and form.is_valid():
        date_from, date_to = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
    figures = dashboard_figures(date_from=date_from, date_to=date_to)
    outcomes = ("succeeded", "failed", "conflict", "pending")
    charts = {
        "period": figures.period,
        "series": [
            {"label": row["label"], **{o: row[o] for o in outcomes}} for row in figures.per_period
        ],
        "perAgent": figures.per_agent,
        "fields": [{"label": row["label"], "changes": row["changes"]} for row in figures.fields],
    }
    presets = range_presets(today=today, date_from=date_from, date_to=date_to)
    context = {"form": form, "figures": figures, "charts": charts, "presets": presets}
    return render(request, "dashboard/dashboard.html", context)
