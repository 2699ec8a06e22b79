"""The edit page: the form from CDP's current version, and the save."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from audit.models import AuditEntry
from audit.services import RequestMeta
from cdp.errors import CDPError, CDPNotFound
from consumers import edits, pushes, records, services
from consumers.forms import ConsumerForm, TravellerRowForm
from consumers.models import Order, OrderConsumer
from consumers.pushes import Outcome
from consumers.views import pages
from consumers.views.common import after_save, can_edit, cdp_error_page, signed_in_user


@require_http_methods(["GET", "POST"])
@login_required
@can_edit
def consumer_edit(request: HttpRequest, ref: str) -> HttpResponse:
    """GET: the form, from CDP's current version; POST: save the edit to CDP."""
    if request.method == "GET":
        # Start the agent from CDP's current version, so the save does not meet a conflict later.
        try:
            consumer = services.consumer_fetch(ref=ref)
        except CDPNotFound as error:
            return cdp_error_page(request, error, what=f"order consumer {ref}")
        except CDPError as error:
            cached = OrderConsumer.objects.filter(ref=ref).first()
            if cached is None:
                return cdp_error_page(request, error, what=f"order consumer {ref}")
            messages.warning(
                request,
                f"Showing the copy fetched {cached.fetched_at:%Y-%m-%d %H:%M} UTC: {error}",
            )
            consumer = cached
        guest = services.guest_summary_or_none(ref=consumer.guest_ref)
        return _render_edit(request, ConsumerForm(consumer=consumer, **_context(consumer, guest)))

    cached = OrderConsumer.objects.filter(ref=ref).first()
    if cached is None:
        return redirect("consumers:edit", ref=ref)
    form = ConsumerForm(request.POST, consumer=cached, **_context(cached, None))
    if not form.is_valid():
        return _render_edit(request, form)
    loaded = form.cleaned_data["loaded"]
    user = signed_in_user(request)
    try:
        saved = edits.consumer_edit_save(
            consumer=cached,
            data=form.edited_values(),
            loaded_values=loaded["values"],
            loaded_modified_at=loaded["modified_at"],
            user=user,
            meta=RequestMeta.from_request(request),
            reason=form.cleaned_data["reason"],
        )
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            for field, errors in error.error_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form.add_error(None, error)
        return _render_edit(request, form)
    result = saved.sent
    if result.outcome == Outcome.FAILED:
        form.add_error(None, f"CDP did not save the change. {result.error}")
        if saved.held_reasons:
            held = ", ".join(records.label(name) for name in saved.held_reasons)
            form.add_error(
                None, f"Nothing was submitted for approval either ({held}): save again once mended."
            )
        # "lastName: may not be null." points at Last name, which gets the focus.
        if result.error is not None:
            for field, text in services.cdp_field_errors(result.error).items():
                form.add_error(field, f"CDP: {text}")
        return _render_edit(request, form)
    if saved.held is None:
        return after_save(request, result)
    held = ", ".join(records.label(name) for name in saved.held_reasons)
    sent = saved.sent_fields
    if sent:
        labels = ", ".join(records.label(name) for name in sent)
        messages.info(
            request,
            f"Your change is split: {labels} went to CDP as a save of its own (below); {held} "
            "waits for a supervisor's approval.",
        )
    messages.warning(
        request,
        f"{held}: submitted for approval (request {saved.held.pk}), nothing of it was sent to "
        "CDP. A supervisor approves or rejects it; you can withdraw it until then, and you are "
        "told what became of it.",
    )
    if sent:
        return after_save(request, result)
    return redirect("consumers:detail", ref=cached.ref)


def _context(consumer: OrderConsumer, guest: dict[str, str] | None) -> dict:
    """What the form shows beside the consumer: its order's items, and its guest's name."""
    return {"order_items": services.order_items_of(consumer=consumer), "guest": guest}


def _render_edit(request: HttpRequest, form: ConsumerForm) -> HttpResponse:
    # The first field with an error takes the focus (no script needed, none allowed inline).
    invalid = next((name for name in form.fields if name in form.errors), None)
    if invalid:
        form.fields[invalid].widget.attrs["autofocus"] = True
    travellers = services.order_travellers(order_ref=form.consumer.order_ref)
    context = {
        "form": form,
        "consumer": form.consumer,
        "other_travellers": [c for c in travellers if c.ref != form.consumer.ref],
        "pending": pushes.pushes_waiting(ref=form.consumer.ref),
        "approval_notices": edits.edit_notices(user=signed_in_user(request)),
        "awaiting_approval": edits.edits_awaiting_approval(
            ref=form.consumer.ref, user=signed_in_user(request)
        ),
        "reason_templates": services.reason_templates(),
    }
    return render(request, "consumers/consumer_edit.html", context)


@require_POST
@login_required
@can_edit
def consumer_undo(request: HttpRequest, entry_id: int) -> HttpResponse:
    """Undo the agent's own save, from the message that confirmed it (for 10 minutes)."""
    entry = get_object_or_404(AuditEntry, pk=entry_id, consumer_ref__gt="")
    try:
        result = pushes.consumer_undo(
            entry=entry, user=signed_in_user(request), meta=RequestMeta.from_request(request)
        )
    except pushes.RevertRefused as refusal:
        messages.error(request, f"Not undone. {refusal}")
        return redirect("consumers:detail", ref=entry.consumer_ref)
    except CDPError as error:
        messages.error(request, f"Not undone: CDP could not be read. {error}")
        return redirect("consumers:detail", ref=entry.consumer_ref)
    if result.outcome == Outcome.SUCCEEDED:
        messages.success(request, f"Undone: {result.consumer} is back as before your save.")
        return redirect("consumers:detail", ref=entry.consumer_ref)
    return after_save(request, result)


@require_POST
@login_required
@can_edit
def order_edit(request: HttpRequest, ref: str) -> HttpResponse:
    """Save the titles and names of an order's travellers from its page: each its own save."""
    travellers = services.order_travellers(order_ref=ref)
    order = Order.objects.filter(ref=ref).first()
    if order is None or not travellers:
        return redirect("consumers:order", ref=ref)
    try:
        count = min(int(request.POST.get("rows", "0")), len(travellers))
    except ValueError:
        count = 0
    by_ref = {consumer.ref: consumer for consumer in travellers}
    rows = []
    for number in range(count):
        posted = request.POST.get(f"row-{number}-ref", "")
        consumer = by_ref.get(posted)
        if consumer is not None:
            rows.append(TravellerRowForm(request.POST, prefix=f"row-{number}", consumer=consumer))
    reason = request.POST.get("reason", "").strip()[:500]
    results = pushes.consumers_push_names(
        rows=[
            (row.consumer, row.edited_values(), row.cleaned_data["loaded"]) if row.is_valid() else
            (row.consumer, None, None)
            for row in rows
        ],
        user=signed_in_user(request),
        meta=RequestMeta.from_request(request),
        reason=reason,
    )  # fmt: skip
    shown = [by_ref[row.consumer.ref] for row in rows]
    for consumer in shown:  # the rows as CDP now holds them, where a save changed them
        saved = results.get(consumer.ref)
        if saved and saved.consumer is not None:
            by_ref[consumer.ref] = saved.consumer
    fresh_rows = [
        row if not row.is_valid() or results[row.consumer.ref].outcome != Outcome.SUCCEEDED
        else TravellerRowForm(prefix=row.prefix, consumer=by_ref[row.consumer.ref])
        for row in rows
    ]  # fmt: skip
    texts = {ref: _row_result(result) for ref, result in results.items()}
    for row in rows:
        if not row.is_valid():
            texts[row.consumer.ref] = ("danger", "Not saved: mend the fields marked.", "")
    count_saved = sum(1 for result in results.values() if result.outcome == Outcome.SUCCEEDED)
    messages.info(
        request, f"Saved {count_saved} of {len(rows)} travellers; each row says what happened."
    )
    return pages.render_order(
        request, order, [by_ref[c.ref] for c in shown], fresh_rows, results=texts
    )


def _row_result(result: pushes.PushResult) -> tuple[str, str, str]:
    """(colour, words, a page to look at) for one traveller's outcome on the order page."""
    if result.outcome == Outcome.UNCHANGED:
        return "secondary", "Unchanged: nothing sent.", ""
    if result.outcome == Outcome.SUCCEEDED:
        return "success", "Saved to CDP.", ""
    if result.outcome == Outcome.PENDING:
        return "warning", "Queued: CDP could not take it now; it is sent automatically.", ""
    if result.outcome == Outcome.CONFLICT and result.push is not None:
        url = reverse("consumers:conflict", args=[result.consumer.ref, result.push.pk])
        return "warning", "Conflict: someone changed this traveller in CDP meanwhile.", url
    return "danger", f"Not saved: {result.error}", ""
