from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit.models import AuditEntry
from audit.services import RequestMeta
from cdp.client import CDPError, CDPNotFound
from consumers import services
from consumers.forms import ConsumerForm, SearchForm
from consumers.models import FIELD_LABELS, Order, OrderConsumer

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
        "recent": OrderConsumer.objects.order_by("-fetched_at")[:8],
    }
    return render(request, "consumers/home.html", context)


@require_GET
@login_required
@can_view
def order_detail(request, ref: str):
    try:
        order, consumers = services.order_fetch(ref=ref)
    except CDPError as error:
        return _cdp_error_page(request, error, what=f"order {ref}")
    return render(request, "consumers/order_detail.html", {"order": order, "consumers": consumers})


@require_POST
@login_required
@can_view
def order_refresh(request, ref: str):
    try:
        _, consumers = services.order_fetch(ref=ref, refresh=True)
    except CDPError as error:
        messages.error(request, f"Could not refresh the order from CDP. {error}")
    else:
        messages.success(request, f"Fetched the order and its {len(consumers)} consumers from CDP.")
    return redirect("consumers:order", ref=ref)


@require_GET
@login_required
@can_view
def consumer_detail(request, ref: str):
    try:
        consumer = services.consumer_get(ref=ref)
    except CDPError as error:
        return _cdp_error_page(request, error, what=f"order consumer {ref}")
    context = {
        "consumer": consumer,
        "order": Order.objects.filter(ref=consumer.order_ref).first(),
        "history": AuditEntry.objects.filter(consumer_ref=ref).prefetch_related("changes")[:20],
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
    try:
        result = services.consumer_push_update(
            consumer=consumer,
            data=form.edited_values(),
            loaded_modified_at=form.cleaned_data["modified_at"],
            user=request.user,
            meta=RequestMeta.from_request(request),
            reason=form.cleaned_data["reason"],
        )
    except ValidationError as error:
        form.add_error(None, error)
        return _render_edit(request, form)

    if result.outcome == services.Outcome.UNCHANGED:
        messages.info(request, "Nothing was changed, so nothing was sent to CDP.")
        return redirect("consumers:detail", ref=ref)
    if result.outcome == services.Outcome.SUCCEEDED:
        messages.success(request, f"Saved {result.consumer} to CDP.")
        return redirect("consumers:detail", ref=ref)
    if result.outcome == services.Outcome.CONFLICT:
        # Keep the agent's input, but load it against CDP's current version: saving again is
        # then a deliberate overwrite of what the agent has now been shown.
        data = request.POST.copy()
        data["modified_at"] = form.initial_for(result.consumer)["modified_at"]
        form = ConsumerForm(data, consumer=result.consumer)
        form.is_valid()
        form.add_error(
            None,
            "Someone changed this consumer in CDP after you opened it, so nothing was sent. "
            "CDP's current values are shown beside the form; press Save again to apply your edit "
            "over them, or Cancel to keep them.",
        )
        return _render_edit(request, form, conflict=result.current)
    form.add_error(None, f"CDP did not save the change. {result.error}")
    return _render_edit(request, form)


def _render_edit(request, form: ConsumerForm, *, conflict: dict | None = None):
    conflict_rows = [
        (FIELD_LABELS[field], ", ".join(value) if isinstance(value, list) else value)
        for field, value in (conflict or {}).items()
    ]
    context = {"form": form, "consumer": form.consumer, "conflict_rows": conflict_rows}
    return render(request, "consumers/consumer_edit.html", context)
