"""Bulk refresh pages: start one, watch its progress, cancel it, download its failures."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from consumers import bulk, services
from consumers.forms import BulkRefreshForm
from consumers.models import BulkRefresh
from consumers.views.common import can_view, signed_in_user
from core.uploads import accepts_upload

ROWS_PER_PAGE = 200


@accepts_upload(max_file_bytes=BulkRefreshForm.MAX_FILE_BYTES)
@require_http_methods(["GET", "POST"])
@login_required
@can_view
def bulk_refresh_new(request: HttpRequest) -> HttpResponse:
    """GET: the form and the refreshes to look at; POST: start a refresh of the refs given."""
    user = signed_in_user(request)
    form = BulkRefreshForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = bulk.bulk_refresh_start(user=user, refs=form.cleaned_data["ref_list"])
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return redirect("consumers:bulk", job_id=job.pk)
    jobs, others = bulk.bulk_refreshes_listed(user=user)
    context = {
        "form": form,
        "jobs": jobs,
        "others": others,
        "max_refs": settings.BULK_REFRESH_MAX_REFS,
    }
    return render(request, "consumers/bulk_new.html", context)


def _page(request: HttpRequest, job: BulkRefresh) -> Page:
    return Paginator(job.items.order_by("id"), ROWS_PER_PAGE).get_page(request.GET.get("page"))


@require_GET
@login_required
@can_view
def bulk_refresh_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    """The job's progress and, a page at a time, each consumer's result."""
    job = bulk.bulk_refresh_get(job_id=job_id, user=signed_in_user(request))
    page = _page(request, job)
    names = services.consumer_names(refs=[i.consumer_ref for i in page.object_list])
    rows = [(item, names.get(item.consumer_ref, "")) for item in page.object_list]
    context = {"job": job, "page": page, "rows": rows, "can_cancel": not job.is_over}
    return render(request, "consumers/bulk_detail.html", context)


@require_GET
@login_required
@can_view
def bulk_refresh_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    """The job's counts and the results of the rows on the page being watched, as JSON."""
    job = bulk.bulk_refresh_get(job_id=job_id, user=signed_in_user(request))
    items = list(_page(request, job).object_list)
    names = services.consumer_names(refs=[item.consumer_ref for item in items])
    return JsonResponse(
        {
            "status": job.status,
            "status_label": job.get_status_display(),
            "over": job.is_over,
            "total": job.total,
            "done": job.done,
            "failed": job.failed,
            "percent": job.percent,
            "rows": {
                item.consumer_ref: {
                    "result": item.result,
                    "label": item.get_result_display(),
                    "name": names.get(item.consumer_ref, ""),
                    "error": item.error,
                }
                for item in items
            },
        }
    )


@require_POST
@login_required
@can_view
def bulk_refresh_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    """Ask the job to stop; the consumers not refreshed yet are skipped."""
    job = bulk.bulk_refresh_get(job_id=job_id, user=signed_in_user(request))
    if job.is_over:
        messages.info(request, "The refresh had already ended.")
    elif bulk.bulk_refresh_cancel(job=job):
        messages.success(request, "Cancelling: the consumers not refreshed yet are skipped.")
    return redirect("consumers:bulk", job_id=job.pk)


@require_GET
@login_required
@can_view
def bulk_refresh_failures(request: HttpRequest, job_id: int) -> HttpResponse:
    """The refs that could not be refreshed, with CDP's reason, as a CSV download."""
    job = bulk.bulk_refresh_get(job_id=job_id, user=signed_in_user(request))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="bulk-refresh-{job.pk}-failures.csv"'
    bulk.bulk_refresh_failures_csv(job=job, out=response)
    return response
