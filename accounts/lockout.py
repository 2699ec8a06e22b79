"""django-axes hook: the locked-out page (the client's address comes from core.proxies)."""

from axes.helpers import get_cool_off
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.forms import SignInForm


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: object = None
) -> HttpResponse:
    """Render the sign-in page with the lockout and when it ends, as HTTP 429."""
    cool_off = get_cool_off(request)
    attempt_time = getattr(request, "axes_attempt_time", None) or timezone.now()
    next_url = request.POST.get(REDIRECT_FIELD_NAME, "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    context = {
        "form": SignInForm(request=request, initial={"username": request.POST.get("username")}),
        "redirect_field_value": next_url,
        "redirect_field": format_html(
            '<input type="hidden" name="{}" value="{}">', REDIRECT_FIELD_NAME, next_url
        )
        if next_url
        else "",
        "lockout": {
            "until": attempt_time + cool_off if cool_off else None,
            "minutes": int(cool_off.total_seconds() // 60) if cool_off else None,
        },
    }
    return render(request, "account/login.html", context, status=429)
