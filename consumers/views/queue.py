"""Queued edits: the supervisors' queue page, and Retry now and Cancel (asked first) on an edit."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit.services import RequestMeta
from consumers import pushes
from consumers.models import OrderConsumer
from consumers.views.common import can_edit, change_rows, next_url, signed_in_user


@require_GET
@login_required
@permission_required("consumers.view_push", raise_exception=True)
def push_queue(request: HttpRequest) -> HttpResponse:
    """Everyone's edits not in CDP yet, in conflict or failed in the queue."""
    return render(
        request, "consumers/push_queue.html", {"pushes": pushes.pushes_needing_attention()}
    )


@require_POST
@login_required
@can_edit
def queued_retry(request: HttpRequest, ref: str, push_id: int) -> HttpResponse:
    """Send a queued edit at once (the agent's own; a supervisor's: anyone's)."""
    push = pushes.push_get(ref=ref, push_id=push_id, user=signed_in_user(request))
    if pushes.push_retry_now(push=push):
        messages.success(request, f"{push.object_repr}: The worker will try it now.")
    else:
        messages.info(request, f"{push.object_repr}: It is no longer queued.")
    return redirect(next_url(request, reverse("consumers:detail", args=[ref])))


@require_http_methods(["GET", "POST"])
@login_required
@can_edit
def queued_cancel(request: HttpRequest, ref: str, push_id: int) -> HttpResponse:
    """GET: show the change that will not be sent; POST: cancel the queued edit."""
    user = signed_in_user(request)
    push = pushes.push_get(ref=ref, push_id=push_id, user=user)
    default = reverse("consumers:detail", args=[ref])
    back = next_url(request, default)
    if request.method == "POST":
        meta = RequestMeta.from_request(request)
        cancelled = pushes.push_cancel(push=push, user=user, meta=meta)
        text = "Cancelled: the change will not be sent." if cancelled else "It is no longer queued."
        (messages.success if cancelled else messages.info)(request, f"{push.object_repr}: {text}")
        return redirect(back)
    consumer = OrderConsumer.objects.filter(ref=ref).first()
    context = {
        "push": push,
        "rows": change_rows(push, consumer),
        "back": back,
        "next": "" if back == default else back,
    }
    return render(request, "consumers/queued_cancel.html", context)
