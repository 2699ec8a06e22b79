"""System checks for the key that encrypts the stored CDP API tokens, and for CDP's hosts."""

import ipaddress
import re
from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

from cdp import hosts, links
from core import crypto

# A host name as CDP_ALLOWED_HOSTS takes it: DNS labels, or an IP address (checked apart).
_HOST_NAME = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9-]{1,63}(?<!-))*\.?", re.I)


@checks.register(checks.Tags.security)
def check_field_encryption_key_format(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Report any FIELD_ENCRYPTION_KEY entry that is not a base64 32-byte key."""
    errors: list[checks.CheckMessage] = []
    for position, entry in enumerate(crypto.configured_entries(), start=1):
        try:
            crypto.parse_key(entry, position)
        except crypto.EncryptionKeyMissing as exc:
            errors.append(checks.Error(str(exc), id="cdp.E002"))
    return errors


@checks.register(checks.Tags.security, deploy=True)
def check_field_encryption_key_set(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Report a production set-up without its own FIELD_ENCRYPTION_KEY."""
    entries = crypto.configured_entries()
    if not entries:
        return [
            checks.Error(
                "FIELD_ENCRYPTION_KEY is not set: the CDP API tokens stored in the database "
                "cannot be encrypted or decrypted without DEBUG.",
                hint=f"Generate a key with: {crypto.GENERATE_COMMAND}",
                id="cdp.E001",
            )
        ]
    if crypto.INSECURE_DEVELOPMENT_KEY in entries:
        return [
            checks.Error(
                "FIELD_ENCRYPTION_KEY holds the public development key.",
                hint="Generate a key of your own, put it first and run rotate_credentials_key.",
                id="cdp.E003",
            )
        ]
    return []


@checks.register(checks.Tags.security)
def check_cdp_allowed_hosts(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Report CDP_ALLOWED_HOSTS entries that are not host names (a scheme, a port, a wildcard)."""
    errors: list[checks.CheckMessage] = []
    for entry in settings.CDP_ALLOWED_HOSTS:
        host = entry.strip().removeprefix("[").removesuffix("]")
        if not host or _HOST_NAME.fullmatch(host) or _is_ip_address(host):
            continue
        errors.append(
            checks.Error(
                f"CDP_ALLOWED_HOSTS holds “{entry}”, which is not a host name, so it matches "
                "no CDP URL.",
                hint="Give host names alone, comma-separated, without scheme, port or "
                "wildcard, e.g. api-engage-eu.sitecorecloud.io,127.0.0.1.",
                id="cdp.E005",
            )
        )
    return errors


@checks.register(checks.Tags.security)
def check_cdp_base_url_host(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Report a CDP_BASE_URL whose host CDP_ALLOWED_HOSTS does not list."""
    if not settings.CDP_BASE_URL:
        return []
    refusal = hosts.host_refusal(settings.CDP_BASE_URL.rstrip("/"))
    if not refusal:
        return []
    hint = (
        "Set CDP_BASE_URL to your region's host, e.g. https://api-engage-eu.sitecorecloud.io, "
        "or add its host to CDP_ALLOWED_HOSTS (`make run` adds 127.0.0.1 for the sandbox)."
    )
    if settings.CDP_API_TOKEN:
        # A token is configured for that URL: the client refuses every call with it.
        return [checks.Error(f"CDP_BASE_URL is refused: {refusal}", hint=hint, id="cdp.E004")]
    return [
        checks.Warning(
            f"CDP_BASE_URL is refused: {refusal} Calls through the CDP_* settings (while no CDP "
            "connection is active) will fail.",
            hint=hint,
            id="cdp.W004",
        )
    ]


@checks.register()
def check_cdp_api_version(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Report a CDP_API_VERSION the client does not speak."""
    if settings.CDP_API_VERSION in links.API_VERSIONS:
        return []
    return [
        checks.Error(
            f"CDP_API_VERSION is “{settings.CDP_API_VERSION}”, which this back office does not "
            "speak, so every call through the CDP_* settings would fail.",
            hint=f"Set it to one of {', '.join(links.API_VERSIONS)} (docs/cdp-versions.md).",
            id="cdp.E006",
        )
    ]


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
