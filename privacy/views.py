"""The privacy pages: correct a person everywhere (agents), forget a person (administrators)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit.services import RequestMeta
from cdp.errors import CDPError
from cdp.links import is_ref
from consumers.views.common import can_edit, cdp_error_page, signed_in_user
from privacy import rectify, services
from privacy.forms import ErasureForm, RectificationForm
from privacy.models import ErasureRequest, RectificationItem

can_erase = permission_required("privacy.add_erasurerequest", raise_exception=True)


def _start(request: HttpRequest) -> tuple[str, str]:
    """The consumer or guest the agent starts from (?consumer= or ?guest=), if a ref."""
    consumer = request.GET.get("consumer", "").strip()
    guest = request.GET.get("guest", "").strip()
    return (consumer if is_ref(consumer) else ""), (guest if is_ref(guest) else "")


@require_http_methods(["GET", "POST"])
@login_required
@can_edit
def rectify_new(request: HttpRequest) -> HttpResponse:
    """GET: the person's records and the form; POST: keep them as a preview to choose from."""
    consumer_ref, guest_ref = _start(request)
    if not consumer_ref and not guest_ref:
        messages.error(request, "Start from a consumer or a guest: open one and choose "
                       "“Correct this person everywhere”.")  # fmt: skip
        return redirect("consumers:home")
    try:
        person = rectify.person_records(consumer_ref=consumer_ref, guest_ref=guest_ref)
    except CDPError as error:
        return cdp_error_page(request, error, what="the consumer to start from")
    first = next((f.consumer for f in person.found if f.consumer.ref == consumer_ref), None)
    first = first or (person.found[0].consumer if person.found else None)
    current = first.editable_values() if first else {}
    form = RectificationForm(request.POST or None, current=current)
    if request.method == "POST" and form.is_valid():
        if not person.found:
            form.add_error(None, "No record of this person was found: there is nothing to correct.")
        else:
            job = rectify.rectification_prepare(
                person=person,
                wanted=form.wanted(),
                reason=form.cleaned_data["reason"],
                user=signed_in_user(request),
                meta=RequestMeta.from_request(request),
                source_ref=consumer_ref,
            )
            return redirect("privacy:rectify", job_id=job.pk)
    context = {"person": person, "form": form, "consumer_ref": consumer_ref, "guest_ref": guest_ref}
    return render(request, "privacy/rectify_new.html", context)


@require_GET
@login_required
@can_edit
def rectify_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    """The preview to choose from (a draft), or the correction's progress and results."""
    job = rectify.rectification_get(job_id=job_id, user=signed_in_user(request))
    items = list(job.items.all())
    rows = [
        {
            "item": item,
            "fields": [
                {
                    "label": label,
                    "now": item.loaded.get(name) or "",
                    "new": job.wanted.get(name) or "",
                    "changed": name in item.changes,
                }
                for name, label in rectify.LABELS.items()
            ],
        }
        for item in items
    ]
    context = {
        "job": job,
        "rows": rows,
        "changing": sum(1 for item in items if item.changes),
        "audit_query": job.correlation_id,
    }
    return render(request, "privacy/rectify_detail.html", context)


@require_POST
@login_required
@can_edit
def rectify_start(request: HttpRequest, job_id: int) -> HttpResponse:
    job = rectify.rectification_get(job_id=job_id, user=signed_in_user(request))
    ids = [int(value) for value in request.POST.getlist("items") if value.isdigit()]
    try:
        rectify.rectification_start(job=job, item_ids=ids)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Correcting {job.total} record(s) in the background.")
    return redirect("privacy:rectify", job_id=job.pk)


@require_GET
@login_required
@can_edit
def rectify_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    """The correction's counts and each record's result, as JSON for the page to show live."""
    job = rectify.rectification_get(job_id=job_id, user=signed_in_user(request))
    labels = dict(RectificationItem.Result.choices)
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
                str(item_id): {
                    "result": result,
                    "label": labels.get(result, result),
                    "error": error,
                }
                for item_id, result, error in job.items.values_list("pk", "result", "error")
            },
        }
    )


@require_POST
@login_required
@can_edit
def rectify_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    job = rectify.rectification_get(job_id=job_id, user=signed_in_user(request))
    if rectify.rectification_cancel(job=job):
        messages.info(request, "The correction stops after the record being saved now.")
    else:
        messages.info(request, "The correction was already over.")
    return redirect("privacy:rectify", job_id=job.pk)


@require_http_methods(["GET", "POST"])
@login_required
@can_erase
def erasure_list(request: HttpRequest) -> HttpResponse:
    """GET: the form and past erasures; POST: what it would do, then (confirmed) do it."""
    form = ErasureForm(request.POST or None)
    plan = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if request.POST.get("confirm") == "yes":
            erasure = services.erasure_record(
                guest_ref=data["guest_ref"],
                ticket=data["ticket"],
                cdp_confirmed_on=data["cdp_confirmed_on"],
                extra_consumer_refs=data["consumer_refs"],
                user=signed_in_user(request),
                meta=RequestMeta.from_request(request),
            )
            messages.success(request, f"The person of ticket {erasure.ticket} is forgotten here.")
            return redirect("privacy:erasure", pk=erasure.pk)
        plan = services.erasure_plan(
            guest_ref=data["guest_ref"], extra_consumer_refs=data["consumer_refs"]
        )
    context = {
        "form": form,
        "plan": plan,
        "plan_counts": [
            (label, plan.counts.get(key, 0)) for key, label in services.COUNT_LABELS.items()
        ]
        if plan
        else [],
        "erasures": ErasureRequest.objects.select_related("user")[:50],
    }
    return render(request, "privacy/erasures.html", context)


@require_GET
@login_required
@can_erase
def erasure_detail(request: HttpRequest, pk: int) -> HttpResponse:
    erasure = get_object_or_404(ErasureRequest.objects.select_related("user"), pk=pk)
    counts = [(label, erasure.counts.get(key, 0)) for key, label in services.COUNT_LABELS.items()]
    return render(request, "privacy/erasure_detail.html", {"erasure": erasure, "counts": counts})
