"""The edit page: the form from CDP's current version, and the save."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from audit.services import RequestMeta
from cdp.errors import CDPError, CDPNotFound
from consumers import edits, pushes, records, services
from consumers.forms import ConsumerForm
from consumers.models import OrderConsumer
from consumers.pushes import Outcome
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
        return _render_edit(request, ConsumerForm(consumer=consumer))

    cached = OrderConsumer.objects.filter(ref=ref).first()
    if cached is None:
        return redirect("consumers:edit", ref=ref)
    form = ConsumerForm(request.POST, consumer=cached)
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


def _render_edit(request: HttpRequest, form: ConsumerForm) -> HttpResponse:
    # The first field with an error takes the focus (no script needed, none allowed inline).
    invalid = next((name for name in form.fields if name in form.errors), None)
    if invalid:
        form.fields[invalid].widget.attrs["autofocus"] = True
    context = {
        "form": form,
        "consumer": form.consumer,
        "pending": pushes.pushes_waiting(ref=form.consumer.ref),
        "approval_notices": edits.edit_notices(user=signed_in_user(request)),
        "awaiting_approval": edits.edits_awaiting_approval(
            ref=form.consumer.ref, user=signed_in_user(request)
        ),
    }
    return render(request, "consumers/consumer_edit.html", context)
