"""django-axes hooks: the client's address behind trusted proxies, and the locked-out page."""

import ipaddress

from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme


def client_ip(request: HttpRequest) -> str | None:
    """Return the client's IP address, read from X-Forwarded-For only behind trusted proxies.

    Each of the TRUSTED_PROXY_COUNT proxies appends the address it received the request from, so
    the client is that many places from the right. Anything further left was written by the
    client and is ignored; with no trusted proxy the header is ignored altogether.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < count:
        return remote  # the request did not come through all the proxies
    candidate = forwarded[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def lockout_response(
    request: HttpRequest, original_response=None, credentials=None
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
