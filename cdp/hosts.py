"""Which hosts CDP credentials may go to: those CDP_ALLOWED_HOSTS lists, over https://.

Plain http:// reaches only this machine (the sandbox). The client checks every call against this
before anything is sent; the connection form, a system check and /readyz say so earlier. It reads
the settings when asked (tests and deployments change them) and knows nothing else of the app.
"""

import re
from urllib.parse import urlsplit

import urllib3.exceptions
import urllib3.util
from django.conf import settings

# Anywhere in a base URL: whitespace, control characters and backslashes, which URL parsers
# (Python's, urllib3's, a browser's) read differently, so that each may see another host.
_DOUBTFUL_IN_A_URL = re.compile(r"[\s\x00-\x1f\x7f\\]")
# The only hosts plain http:// may reach: the sandbox on this machine.
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def _normal_host(host: str) -> str:
    """Return a host name as compared: lower case, no IPv6 brackets, no final (root) dot."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host[:-1] if host.endswith(".") else host


def allowed_hosts() -> list[str]:
    """Return CDP_ALLOWED_HOSTS as compared (read now: tests and deployments change it)."""
    return [_normal_host(host) for host in settings.CDP_ALLOWED_HOSTS if host.strip()]


def host_refusal(url: str) -> str:
    """Say why CDP credentials must not be sent to `url`; "" when its host is allowed.

    The host is read as `requests` (urllib3) will connect to it and as Python reads it, and the
    two must agree; a URL carrying a user name or password (`https://good@evil/`) is refused
    outright. The message names the host, never the rest of the URL.
    """
    if not isinstance(url, str):
        return "The CDP URL is not a valid URL."
    if _DOUBTFUL_IN_A_URL.search(url):
        return "The CDP URL holds a space, a control character or a backslash."
    if not url.lower().startswith(("https://", "http://")):
        return "The CDP URL must start with https:// (or http:// for the local sandbox)."
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is not one)
        connected_to = urllib3.util.parse_url(url).host or ""
    except (ValueError, urllib3.exceptions.LocationParseError):
        return "The CDP URL is not a valid URL."
    if "@" in parts.netloc:
        return (
            "The CDP URL holds a user name or password before its host; give the host alone "
            "(the client key and API token are sent separately)."
        )
    host = parts.hostname or ""
    if not host:
        return "The CDP URL names no host."
    if not host.isascii():
        return "The CDP URL's host must be written in ASCII (an international name in punycode)."
    if _normal_host(connected_to) != _normal_host(host):
        return "The CDP URL's host reads differently to different parsers."
    allowed = allowed_hosts()
    if _normal_host(host) not in allowed:
        return (
            f"The host {host} is not in CDP_ALLOWED_HOSTS ({', '.join(allowed) or 'empty'}), "
            "and CDP credentials go to no other host."
        )
    if parts.scheme.lower() == "http" and _normal_host(host) not in _LOOPBACK:
        return (
            f"The CDP URL must start with https:// for {host}: over plain http:// the client key "
            "and API token would be sent in clear (http:// is for the sandbox on this machine)."
        )
    return ""
