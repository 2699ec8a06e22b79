"""The person's notifications: what became of their queued edits (and more) meanwhile."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from consumers import notifications
from consumers.views.common import next_url, signed_in_user


@require_GET
@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    """The person's notifications, newest first; unread ones marked."""
    user = signed_in_user(request)
    context = {"items": notifications.notifications_recent(user=user)}
    return render(request, "consumers/notifications.html", context)


@require_POST
@login_required
def notification_mark_read(request: HttpRequest) -> HttpResponse:
    """Mark every notification of the person read (the badge empties)."""
    count = notifications.notifications_mark_read(user=signed_in_user(request))
    messages.info(request, f"Marked {count} notification{'s' if count != 1 else ''} read.")
    return redirect(next_url(request, "/notifications/"))
