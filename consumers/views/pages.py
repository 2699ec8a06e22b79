"""The pages for finding and reading: home, find, an order, a consumer, their refreshes, and the
guest hint of the edit form."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from cdp.errors import CDPError, CDPNotFound
from consumers import edits, services
from consumers.forms import FindForm, SearchForm, TravellerRowForm, parse_ref
from consumers.models import Order, OrderConsumer
from consumers.views.common import can_edit, can_view, cdp_error_page, signed_in_user


@require_GET
@login_required
@can_view
def home(request: HttpRequest) -> HttpResponse:
    """The start page: look up by kind, the consumers viewed lately, the demo orders."""
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
            results = services.consumer_search(query=query, limit=50)
    context = {
        "form": form,
        "results": results,
        "order_refs": order_refs,
        "demo_orders": services.demo_orders(refs=settings.CDP_DEMO_ORDER_REFS),
        "recent": services.consumers_recently_viewed(user=signed_in_user(request)),
    }
    return render(request, "consumers/home.html", context)


@require_GET
@login_required
@can_view
def find(request: HttpRequest) -> HttpResponse:
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
def guest_summary(request: HttpRequest) -> HttpResponse:
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
@can_edit
def guest_search(request: HttpRequest) -> HttpResponse:
    """CDP's guests by name or e-mail address for the edit form's guest picker, as JSON."""
    query = request.GET.get("q", "").strip()[:200]
    if len(query) < 2 or not any(character.isalnum() for character in query):
        return JsonResponse({"guests": [], "more": False})
    try:
        guests, more = services.guest_search(query=query)
    except CDPError as error:
        return JsonResponse({"error": f"Could not search CDP's guests. {error}"}, status=503)
    return JsonResponse({"guests": guests, "more": more})


@require_GET
@login_required
@can_view
def order_detail(request: HttpRequest, ref: str) -> HttpResponse:
    """The order and its consumers, each with its state in CDP."""
    try:
        page = services.order_fetch(ref=ref)
    except CDPError as error:
        return cdp_error_page(request, error, what=f"order {ref}")
    _warn_about_missing(request, page)
    surname = request.GET.get("surname", "").strip()[:255]
    rows = None
    if request.user.has_perm("consumers.change_orderconsumer"):
        rows = [
            TravellerRowForm(
                prefix=f"row-{number}",
                consumer=consumer,
                initial={**TravellerRowForm(consumer=consumer).initial}
                | ({"last_name": surname} if surname else {}),
            )
            for number, consumer in enumerate(page.consumers)
        ]
    return render_order(request, page.order, page.consumers, rows, surname=surname)


def render_order(
    request: HttpRequest,
    order: Order,
    consumers: list[OrderConsumer],
    rows: list[TravellerRowForm] | None,
    *,
    results: dict[str, tuple[str, str, str]] | None = None,
    surname: str = "",
    status: int = 200,
) -> HttpResponse:
    """The order page: its items and travellers, with the inline form of their names."""
    states = services.consumers_sync_states(consumers=consumers)
    by_ref = {row.consumer.ref: row for row in rows or []}
    context = {
        "order": order,
        "consumers": [
            (
                consumer,
                states[consumer.ref],
                by_ref.get(consumer.ref),
                (results or {}).get(consumer.ref),
            )
            for consumer in consumers
        ],
        "consumer_refs": [consumer.ref for consumer in consumers],
        "inline": rows is not None,
        "row_count": len(rows or []),
        "surname": surname,
        "reason_templates": services.reason_templates() if rows is not None else [],
    }
    return render(request, "consumers/order_detail.html", context, status=status)


def _warn_about_missing(request: HttpRequest, page: services.OrderPage) -> None:
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
def order_refresh(request: HttpRequest, ref: str) -> HttpResponse:
    """Fetch the order and all its consumers from CDP again."""
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
def consumer_detail(request: HttpRequest, ref: str) -> HttpResponse:
    """The consumer as cached (fetched on first view), its order, history and open edits."""
    try:
        page = services.consumer_page(ref=ref, user=signed_in_user(request))
    except CDPError as error:
        return cdp_error_page(request, error, what=f"order consumer {ref}")
    context = {
        "consumer": page.consumer,
        "order": page.order,
        "history": page.history,
        "pushes": page.pushes,
        "sync_state": page.sync_state,
        "awaiting_approval": edits.edits_awaiting_approval(ref=ref, user=signed_in_user(request)),
        "neighbours": page.neighbours,
    }
    return render(request, "consumers/consumer_detail.html", context)


@require_POST
@login_required
@can_view
def consumer_refresh(request: HttpRequest, ref: str) -> HttpResponse:
    """Fetch the consumer from CDP again."""
    try:
        services.consumer_fetch(ref=ref)
    except CDPError as error:
        messages.error(request, f"Could not refresh from CDP. {error}")
    else:
        messages.success(request, "Fetched the current version from CDP.")
    return redirect("consumers:detail", ref=ref)
