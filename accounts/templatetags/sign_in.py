"""What the sign-in page offers: single sign-on, passwords (or only break-glass), passkeys."""

from typing import Any

from allauth.socialaccount.adapter import get_adapter
from django import template
from django.conf import settings
from django.http import HttpRequest

register = template.Library()


@register.simple_tag(takes_context=True)
def sign_in_options(context: dict[str, Any]) -> dict[str, Any]:
    """Return the configured single sign-on provider (or None) and whether SSO_ONLY is on."""
    request: HttpRequest | None = context.get("request")
    # Identity providers come from the environment only (docs/sso.md): none configured, none
    # to look up (allauth would also read its database table).
    configured = settings.SOCIALACCOUNT_PROVIDERS.get("openid_connect", {}).get("APPS")
    providers = get_adapter().list_providers(request) if request and configured else []
    sso = next((p for p in providers if p.app.provider_id == "sso"), None)
    return {
        "sso": sso,
        "sso_login_url": sso.get_login_url(request) if sso is not None else "",
        "sso_only": settings.SSO_ONLY and sso is not None,
        "provider_name": settings.OIDC_PROVIDER_NAME,
    }
