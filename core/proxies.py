"""What a request says about its client, believed only as far as the trusted proxies vouch for it.

`client_ip` is the one source of a request's client address: audit entries, signed-in sessions,
the sign-in lockout (django-axes) and log lines all take it from here. It imports no app, so the
audit log and the accounts can both use it.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def behind_trusted_proxies() -> bool:
    """Say whether reverse proxies that rewrite the forwarding headers stand in front."""
    return settings.TRUSTED_PROXY_COUNT > 0


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
    try:
        return str(ipaddress.ip_address(forwarded[-count]))
    except ValueError:
        return remote
