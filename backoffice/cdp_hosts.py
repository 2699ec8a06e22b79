"""The hosts CDP credentials may go to by default: Sitecore CDP's four regional API hosts.

No imports, so the settings (the default of `CDP_ALLOWED_HOSTS`) and the launchers of `make run`
and `make serve`, which run before Django is set up, share the one list.
"""

# The official server list (https://api-docs.sitecore.com/cdp/guest-rest-api/section/authentication).
REGIONAL_HOSTS = (
    "api-engage-ap.sitecorecloud.io",
    "api-engage-eu.sitecorecloud.io",
    "api-engage-jpe.sitecorecloud.io",
    "api-engage-us.sitecorecloud.io",
)
# Where `make run` (and `make serve` with SANDBOX=true) starts the local CDP sandbox.
SANDBOX_HOST = "127.0.0.1"


def with_sandbox(allowed: str | None) -> str:
    """Return CDP_ALLOWED_HOSTS's text (the default when unset) with the sandbox's host added."""
    hosts = [host.strip() for host in (allowed or "").split(",") if host.strip()]
    if allowed is None:
        hosts = list(REGIONAL_HOSTS)
    return ",".join(dict.fromkeys([*hosts, SANDBOX_HOST]))
