"""django-axes hook: the locked-out page (the client's address comes from core.proxies)."""

from axes.helpers import get_cool_off
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: object = None
) -> HttpResponse:
    """Render the sign-in page with the lockout and when it ends, as HTTP 429."""
    cool_off = get_cool_off(request)
    attempt_time = getattr(request, "axes_attempt_time", None) or timezone.now()
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    context = {
        "form": AuthenticationForm(request),
        "next": next_url,
        "lockout": {
            "until": attempt_time + cool_off if cool_off else None,
            "minutes": int(cool_off.total_seconds() // 60) if cool_off else None,
        },
    }
    return render(request, "registration/login.html", context, status=429)
