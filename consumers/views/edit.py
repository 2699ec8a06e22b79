"""The edit page: the form from CDP's current version, and the save."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from audit.services import RequestMeta
from cdp.errors import CDPError, CDPNotFound
from consumers import pushes, services
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
    try:
        result = pushes.consumer_push_update(
            consumer=cached,
            data=form.edited_values(),
            loaded_values=loaded["values"],
            loaded_modified_at=loaded["modified_at"],
            user=signed_in_user(request),
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
    return after_save(request, result)


def _render_edit(request: HttpRequest, form: ConsumerForm) -> HttpResponse:
    # The first field with an error takes the focus (no script needed, none allowed inline).
    invalid = next((name for name in form.fields if name in form.errors), None)
    if invalid:
        form.fields[invalid].widget.attrs["autofocus"] = True
    context = {
        "form": form,
        "consumer": form.consumer,
        "pending": pushes.pushes_waiting(ref=form.consumer.ref),
    }
    return render(request, "consumers/consumer_edit.html", context)
