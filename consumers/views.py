from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit.models import AuditEntry
from audit.services import RequestMeta
from cdp.client import CDPError, CDPNotFound
from consumers import bulk, pushes, records, services
from consumers.forms import BulkRefreshForm, ConsumerForm, FindForm, SearchForm, parse_ref
from consumers.models import BulkRefresh, Order, OrderConsumer, Push
from consumers.pushes import Outcome
from core.uploads import accepts_upload

can_view = permission_required("consumers.view_orderconsumer", raise_exception=True)
can_edit = permission_required("consumers.change_orderconsumer", raise_exception=True)


def _cdp_error_page(request, error: CDPError, *, what: str):
    """Render CDP's failure as a page of its own: 404 when CDP has no such record, else 503."""
    status = 404 if isinstance(error, CDPNotFound) else 503
    return render(
        request, "consumers/cdp_error.html", {"error": error, "what": what}, status=status
    )


@require_GET
@login_required
@can_view
def home(request):
    form = SearchForm(request.GET or None)
    results = order_refs = None
    if form.is_valid():
        kind, query = form.cleaned_data["kind"], form.cleaned_data["q"]
        if kind == SearchForm.Kind.CONSUMER:
            return redirect("consumers:detail", ref=query)
        if kind == SearchForm.Kind.ORDER:
            try:
                order_refs = services.order_find(reference=query)
            except CDPError as error:
                form.add_error(None, str(error))
            else:
                if len(order_refs) == 1:
                    return redirect("consumers:order", ref=order_refs[0])
                if not order_refs:
                    form.add_error(
                        "q", f"CDP has no order with the ref or booking reference {query}."
                    )
        else:
            results = services.consumer_search(query=query)[:50]
    context = {
        "form": form,
        "results": results,
        "order_refs": order_refs,
        "demo_order_refs": settings.CDP_DEMO_ORDER_REFS,
        "recent": services.consumers_recently_viewed(user=request.user),
    }
    return render(request, "consumers/home.html", context)


@require_GET
@login_required
@can_view
def find(request):
    """The search box on every page: straight to the record when the match is unique."""
    form = FindForm(request.GET)
    found = None
    if form.is_valid():
        try:
            found = services.consumer_find(query=form.cleaned_data["q"])
        except CDPError as error:
            form.add_error(None, f"CDP could not be asked. {error}")
        else:
            if found.url:
                return redirect(found.url)
    context = {"find_form": form, "found": found, "search_query": request.GET.get("q", "")}
    return render(request, "consumers/find.html", context)


@require_GET
@login_required
@can_edit
def guest_summary(request):
    """The guest's name and e-mail for the edit form's hint, as JSON, or why there are none."""
    try:
        ref = parse_ref(request.GET.get("ref", ""), "guests")
    except ValidationError as error:
        return JsonResponse({"error": error.messages[0]}, status=400)
    try:
        return JsonResponse(services.guest_lookup(ref=ref))
    except CDPNotFound:
        return JsonResponse({"error": f"CDP has no guest {ref}."}, status=404)
    except CDPError as error:
        return JsonResponse({"error": f"Could not look the guest up. {error}"}, status=503)


@require_GET
@login_required
@can_view
def order_detail(request, ref: str):
    try:
        page = services.order_fetch(ref=ref)
    except CDPError as error:
        return _cdp_error_page(request, error, what=f"order {ref}")
    _warn_about_missing(request, page)
    states = services.consumers_sync_states(consumers=page.consumers)
    context = {
        "order": page.order,
        "consumers": [(consumer, states[consumer.ref]) for consumer in page.consumers],
        "consumer_refs": [consumer.ref for consumer in page.consumers] + list(page.failed),
    }
    return render(request, "consumers/order_detail.html", context)


def _warn_about_missing(request, page: services.OrderPage) -> None:
    failed = page.failed
    if not failed:
        return
    first = next(iter(failed.values()))
    shown = sum(1 for consumer in page.consumers if consumer.ref in failed)
    missing = len(failed) - shown
    parts = []
    if shown:
        parts.append(
            f"{shown} {'is' if shown == 1 else 'are'} shown as last fetched, marked Not checked"
        )
    if missing:
        parts.append(f"{missing} {'is' if missing == 1 else 'are'} missing below")
    messages.warning(
        request,
        f"CDP did not hand over {len(failed)} of this order's consumers ({first}): "
        f"{' and '.join(parts)}. Refresh to try again.",
    )


@require_POST
@login_required
@can_view
def order_refresh(request, ref: str):
    try:
        page = services.order_fetch(ref=ref, refresh=True)
    except CDPError as error:
        messages.error(request, f"Could not refresh the order from CDP. {error}")
    else:
        fetched = len(page.consumers) - len(page.failed)
        messages.success(request, f"Fetched the order and {fetched} of its consumers from CDP.")
        _warn_about_missing(request, page)
    return redirect("consumers:order", ref=ref)


@require_GET
@login_required
@can_view
def consumer_detail(request, ref: str):
    try:
        consumer = services.consumer_get(ref=ref)
    except CDPError as error:
        return _cdp_error_page(request, error, what=f"order consumer {ref}")
    services.consumer_mark_viewed(consumer=consumer, user=request.user)
    pushes_needing_attention = list(
        Push.objects.filter(consumer_ref=ref).needing_attention().select_related("user")
    )
    context = {
        "consumer": consumer,
        "order": Order.objects.filter(ref=consumer.order_ref).first(),
        "history": AuditEntry.objects.filter(consumer_ref=ref).prefetch_related("changes")[:20],
        "pushes": pushes_needing_attention,
        "sync_state": services.sync_state(
            (push.status for push in pushes_needing_attention), consumer
        ),
    }
    return render(request, "consumers/consumer_detail.html", context)


@require_POST
@login_required
@can_view
def consumer_refresh(request, ref: str):
    try:
        services.consumer_fetch(ref=ref)
    except CDPError as error:
        messages.error(request, f"Could not refresh from CDP. {error}")
    else:
        messages.success(request, "Fetched the current version from CDP.")
    return redirect("consumers:detail", ref=ref)


@require_http_methods(["GET", "POST"])
@login_required
@can_edit
def consumer_edit(request, ref: str):
    if request.method == "GET":
        # Start the agent from CDP's current version, so the save does not meet a conflict later.
        try:
            consumer = services.consumer_fetch(ref=ref)
        except CDPNotFound as error:
            return _cdp_error_page(request, error, what=f"order consumer {ref}")
        except CDPError as error:
            consumer = OrderConsumer.objects.filter(ref=ref).first()
            if consumer is None:
                return _cdp_error_page(request, error, what=f"order consumer {ref}")
            messages.warning(
                request,
                f"Showing the copy fetched {consumer.fetched_at:%Y-%m-%d %H:%M} UTC: {error}",
            )
        return _render_edit(request, ConsumerForm(consumer=consumer))

    consumer = OrderConsumer.objects.filter(ref=ref).first()
    if consumer is None:
        return redirect("consumers:edit", ref=ref)
    form = ConsumerForm(request.POST, consumer=consumer)
    if not form.is_valid():
        return _render_edit(request, form)
    loaded = form.cleaned_data["loaded"]
    try:
        result = pushes.consumer_push_update(
            consumer=consumer,
            data=form.edited_values(),
            loaded_values=loaded["values"],
            loaded_modified_at=loaded["modified_at"],
            user=request.user,
            meta=RequestMeta.from_request(request),
            reason=form.cleaned_data["reason"],
        )
    except ValidationError as error:
        form.add_error(None, error)
        return _render_edit(request, form)
    if result.outcome == Outcome.FAILED:
        form.add_error(None, f"CDP did not save the change. {result.error}")
        # "lastName: may not be null." points at Last name, which gets the focus.
        if result.error is not None:
            for field, text in services.cdp_field_errors(result.error).items():
                form.add_error(field, f"CDP: {text}")
        return _render_edit(request, form)
    return _after_save(request, result)


def _after_save(request, result: pushes.PushResult):
    """Tell the agent what became of a save and show them where it stands."""
    ref = result.consumer.ref
    if result.outcome == Outcome.UNCHANGED:
        messages.info(request, "Nothing was changed, so nothing was sent to CDP.")
    elif result.outcome == Outcome.SUCCEEDED:
        messages.success(request, f"Saved {result.consumer} to CDP.")
    elif result.outcome == Outcome.PENDING:
        messages.warning(request, pushes.queued_message(result))
    elif result.outcome == Outcome.CONFLICT:
        messages.warning(
            request,
            "Someone changed this consumer in CDP after you opened it, so nothing was sent. "
            "Compare the versions and re-apply your change or discard it.",
        )
        return redirect("consumers:conflict", ref=ref, push_id=result.push.pk)
    else:
        messages.error(request, f"CDP did not save the change. {result.error}")
    return redirect("consumers:detail", ref=ref)


def _render_edit(request, form: ConsumerForm):
    # The first field with an error takes the focus (no script needed, none allowed inline).
    invalid = next((name for name in form.fields if name in form.errors), None)
    if invalid:
        form.fields[invalid].widget.attrs["autofocus"] = True
    pending = list(
        Push.objects.filter(consumer_ref=form.consumer.ref, status__in=Push.WAITING).select_related(
            "user"
        )
    )
    context = {"form": form, "consumer": form.consumer, "pending": pending}
    return render(request, "consumers/consumer_edit.html", context)


@require_GET
@login_required
@can_edit
def conflict_detail(request, ref: str, push_id: int):
    """The three versions side by side; once resolved, as they were then, with what was done."""
    push = pushes.conflict_get(ref=ref, push_id=push_id, user=request.user)
    consumer = OrderConsumer.objects.get(ref=ref)
    resulting = None
    if push.resolution:
        # History: CDP's version as the agent was shown it, not as CDP holds it today.
        cdp = push.cdp_values or consumer.editable_values()
        if push.resolution_entry_id:
            resulting = AuditEntry.objects.filter(pk=push.resolution_entry_id).first()
    else:
        try:
            consumer = services.consumer_fetch(ref=ref)
        except CDPError as error:
            messages.warning(request, f"Showing CDP's version as last fetched: {error}")
        cdp = consumer.editable_values()
    edited = push.edited
    shown = records.display_text
    rows = [
        {
            "label": field.label,
            "loaded": shown(push.loaded.get(field.name)),
            "now": shown(cdp.get(field.name)),
            "edited": shown(edited.get(field.name)),
            "changed_by_agent": field.name in push.changes,
            "changed_in_cdp": shown(push.loaded.get(field.name)) != shown(cdp.get(field.name)),
        }
        for field in records.FIELDS
    ]
    context = {
        "push": push,
        "consumer": consumer,
        "rows": rows,
        "resulting": resulting,
        "cdp_recorded": bool(push.cdp_values),
    }
    return render(request, "consumers/conflict.html", context)


@require_POST
@login_required
@can_edit
def conflict_reapply(request, ref: str, push_id: int):
    push = pushes.conflict_get(ref=ref, push_id=push_id, user=request.user)
    try:
        result = pushes.conflict_reapply(
            push=push, user=request.user, meta=RequestMeta.from_request(request)
        )
    except pushes.ConflictResolved as resolved:
        messages.info(request, str(resolved))
        return redirect("consumers:conflict", ref=ref, push_id=push.pk)
    except ValidationError as error:
        messages.error(request, f"Not re-applied: {'; '.join(error.messages)}")
        return redirect("consumers:conflict", ref=ref, push_id=push.pk)
    except CDPError as error:
        messages.error(request, f"Not re-applied: CDP could not be read. {error}")
        return redirect("consumers:conflict", ref=ref, push_id=push.pk)
    return _after_save(request, result)


@require_http_methods(["GET", "POST"])
@login_required
@can_edit
def conflict_discard(request, ref: str, push_id: int):
    """GET: show the change that discarding loses; POST: discard it."""
    push = pushes.conflict_get(ref=ref, push_id=push_id, user=request.user)
    if request.method == "POST":
        try:
            pushes.conflict_discard(
                push=push, user=request.user, meta=RequestMeta.from_request(request)
            )
        except pushes.ConflictResolved as resolved:
            messages.info(request, str(resolved))
            return redirect("consumers:conflict", ref=ref, push_id=push.pk)
        messages.info(request, "Your change was discarded; CDP keeps its version.")
        return redirect("consumers:detail", ref=ref)
    consumer = OrderConsumer.objects.get(ref=ref)
    context = {"push": push, "consumer": consumer, "rows": _change_rows(push, consumer)}
    return render(request, "consumers/conflict_discard.html", context)


def _change_rows(push: Push, consumer: OrderConsumer | None) -> list[dict]:
    """The fields the edit changes: as the agent loaded them, as wanted, and as cached now."""
    now = consumer.editable_values() if consumer else {}
    return [
        {
            "label": records.label(field),
            "loaded": records.display_text(old),
            "wanted": records.display_text(new),
            "now": records.display_text(now.get(field)),
        }
        for field, (old, new) in push.changes.items()
    ]


@require_GET
@login_required
@permission_required("consumers.view_push", raise_exception=True)
def push_queue(request):
    queue = Push.objects.needing_attention().select_related("user")[:200]
    return render(request, "consumers/push_queue.html", {"pushes": queue})


def _next_url(request, default: str) -> str:
    """The page to go back to: the `next` asked for if it is a page of this site, else `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if safe and target.startswith("/") else default


@require_POST
@login_required
@can_edit
def queued_retry(request, ref: str, push_id: int):
    """Send a queued edit at once (the agent's own; a supervisor's: anyone's)."""
    push = pushes.push_get(ref=ref, push_id=push_id, user=request.user)
    if pushes.push_retry_now(push=push):
        messages.success(request, f"{push.object_repr}: The worker will try it now.")
    else:
        messages.info(request, f"{push.object_repr}: It is no longer queued.")
    return redirect(_next_url(request, reverse("consumers:detail", args=[ref])))


@require_http_methods(["GET", "POST"])
@login_required
@can_edit
def queued_cancel(request, ref: str, push_id: int):
    """GET: show the change that will not be sent; POST: cancel the queued edit."""
    push = pushes.push_get(ref=ref, push_id=push_id, user=request.user)
    default = reverse("consumers:detail", args=[ref])
    back = _next_url(request, default)
    if request.method == "POST":
        meta = RequestMeta.from_request(request)
        cancelled = pushes.push_cancel(push=push, user=request.user, meta=meta)
        text = "Cancelled: the change will not be sent." if cancelled else "It is no longer queued."
        (messages.success if cancelled else messages.info)(request, f"{push.object_repr}: {text}")
        return redirect(back)
    consumer = OrderConsumer.objects.filter(ref=ref).first()
    context = {
        "push": push,
        "rows": _change_rows(push, consumer),
        "back": back,
        "next": "" if back == default else back,
    }
    return render(request, "consumers/queued_cancel.html", context)


# --- bulk refresh -------------------------------------------------------------------------------

BULK_ROWS_PER_PAGE = 200


@accepts_upload(max_file_bytes=BulkRefreshForm.MAX_FILE_BYTES)
@require_http_methods(["GET", "POST"])
@login_required
@can_view
def bulk_refresh_new(request):
    form = BulkRefreshForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = bulk.bulk_refresh_start(user=request.user, refs=form.cleaned_data["ref_list"])
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return redirect("consumers:bulk", job_id=job.pk)
    jobs = BulkRefresh.objects.filter(user=request.user)[:10]
    # Supervisors may cancel anyone's refresh: they see every one still going, to find it.
    others = []
    if request.user.has_perm("consumers.manage_push"):
        going = [BulkRefresh.Status.QUEUED, BulkRefresh.Status.RUNNING]
        others = (
            BulkRefresh.objects.filter(status__in=going)
            .exclude(user=request.user)
            .select_related("user")[:50]
        )
    context = {
        "form": form,
        "jobs": jobs,
        "others": others,
        "max_refs": settings.BULK_REFRESH_MAX_REFS,
    }
    return render(request, "consumers/bulk_new.html", context)


def _bulk_page(request, job: BulkRefresh):
    return Paginator(job.items.order_by("id"), BULK_ROWS_PER_PAGE).get_page(request.GET.get("page"))


@require_GET
@login_required
@can_view
def bulk_refresh_detail(request, job_id: int):
    job = bulk.bulk_refresh_get(job_id=job_id, user=request.user)
    page = _bulk_page(request, job)
    names = services.consumer_names(refs=[i.consumer_ref for i in page.object_list])
    rows = [(item, names.get(item.consumer_ref, "")) for item in page.object_list]
    context = {"job": job, "page": page, "rows": rows, "can_cancel": not job.is_over}
    return render(request, "consumers/bulk_detail.html", context)


@require_GET
@login_required
@can_view
def bulk_refresh_progress(request, job_id: int):
    """The job's counts and the results of the rows on the page being watched, as JSON."""
    job = bulk.bulk_refresh_get(job_id=job_id, user=request.user)
    items = list(_bulk_page(request, job).object_list)
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
def bulk_refresh_cancel(request, job_id: int):
    job = bulk.bulk_refresh_get(job_id=job_id, user=request.user)
    if job.is_over:
        messages.info(request, "The refresh had already ended.")
    elif bulk.bulk_refresh_cancel(job=job):
        messages.success(request, "Cancelling: the consumers not refreshed yet are skipped.")
    return redirect("consumers:bulk", job_id=job.pk)


@require_GET
@login_required
@can_view
def bulk_refresh_failures(request, job_id: int):
    job = bulk.bulk_refresh_get(job_id=job_id, user=request.user)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="bulk-refresh-{job.pk}-failures.csv"'
    bulk.bulk_refresh_failures_csv(job=job, out=response)
    return response
