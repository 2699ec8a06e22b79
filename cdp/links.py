"""CDP refs and links: what a ref is, the path and link of a resource, reading a link back.

Nothing here needs the settings, the database or the network: a link is built from a base URL
and read back from CDP's `{"href": ...}` objects. Every ref that goes into a path is checked here,
so no text (a page URL, a search box, a crafted CDP answer) can steer a call to another path.
"""

import re
from urllib.parse import quote, unquote, urlsplit

from cdp.errors import CDPNotFound

# The versions of CDP's REST API the client speaks (docs/cdp-versions.md): v2, the "legacy" one
# every instance answers, and v2.1, the one Sitecore recommends for the 2.1 data model. A
# connection says which it calls (`transport.Connection.api_version`); links are built in it.
API_VERSIONS = ("v2", "v2.1")
# The version a connection speaks unless it says otherwise (CDPConnection, CDP_API_VERSION).
API_VERSION = "v2"
# CDP refs are UUIDs, shown in either case in the docs.
REF_PATTERN = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
# The path of a link CDP returns, e.g. https://api.../v2/guests/<ref> (v2.1 links too).
_LINK_PATH = re.compile(r"/v2(?:\.1)?/(?P<collection>[A-Za-z]+)/(?P<ref>[^/]+)/?")
# What no ref may hold: a slash or a backslash (which some servers and proxies also take for a
# path separator), and C0 controls or DEL (a line break in a ref is a header or log injection).
_NOT_IN_A_REF = re.compile(r"[/\\\x00-\x1f\x7f]")
# Control characters are not shown in a message as they are (C0, DEL and C1).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def is_valid_ref(value: object) -> bool:
    """Say whether `value` can stand for a CDP resource: exactly one path segment.

    Never empty, "." or "..", never holding a slash: urllib3 removes dot segments from a URL
    after the ref has been percent-encoded (which leaves dots as they are), so `/v2/orders/..`
    would become `/v2/`, a path that names no resource. This is the one definition; `path`
    checks every ref the client puts into a path against it and the URL converters use it too.
    """
    return (
        isinstance(value, str)
        and value not in ("", ".", "..")
        and _NOT_IN_A_REF.search(value) is None
    )


def is_ref(value: str) -> bool:
    """Say whether typed text has the shape of a CDP ref as the docs show them (a UUID)."""
    # fullmatch: "$" alone would let a ref end in a line break (%0A in a link).
    return REF_PATTERN.fullmatch(value) is not None


def parse_link(value: str) -> tuple[str, str] | None:
    """Return (collection, ref) of a CDP link such as https://.../v2/guests/<ref>, else None."""
    if not value.lower().startswith(("http://", "https://")):
        return None
    try:
        link_path = urlsplit(value).path
    except ValueError:  # e.g. "http://[", found by tests/consumers/test_fuzz_edit_form.py
        return None
    match = _LINK_PATH.fullmatch(link_path)
    if not match:
        return None
    # Decoded, a segment may turn into a dot segment or hold a slash (%2e%2e, %2F).
    ref = unquote(match["ref"])
    return (match["collection"], ref) if is_valid_ref(ref) else None


def ref_from_link(value: object) -> str:
    """Return the ref of a link object (the decoded last segment of its href), else ""."""
    if not isinstance(value, dict) or not isinstance(value.get("href"), str):
        return ""
    try:
        link_path = urlsplit(value["href"]).path
    except ValueError:  # not a URL, e.g. "http://[" (tests/system/test_fuzz_cdp_parser.py)
        return ""
    ref = unquote(link_path.rstrip("/").rsplit("/", 1)[-1])
    # A crafted answer linking to "<base>/v2/guests/.." must not send the next call to /v2/.
    return ref if is_valid_ref(ref) else ""


def ref_of_item(item: object) -> str:
    """Return the ref of a collection's item: its `ref` when CDP gives one (v2.1), else its href's.

    v2 items are links only (`{"href": ...}`, the ref "the string that follows the final slash");
    v2.1 items carry the ref as well (`{"href": ..., "ref": ...}`).
    """
    if isinstance(item, dict):
        ref = item.get("ref")
        if isinstance(ref, str) and is_valid_ref(ref):
            return ref
    return ref_from_link(item)


def path(*segments: str, version: str = API_VERSION) -> str:
    """Return the path of these segments, e.g. /v2/orders/<ref>; refuse (unsent) a bad one."""
    if version not in API_VERSIONS:
        raise ValueError(f"CDP API version {version!r} is not one of {', '.join(API_VERSIONS)}.")
    for segment in segments:
        if not is_valid_ref(segment):
            raise _not_a_ref(segment)
    return f"/{version}/" + "/".join(quote(segment, safe="") for segment in segments)


def link(base_url: str, collection: str, ref: str, *, version: str = API_VERSION) -> dict[str, str]:
    """Return CDP's link object for a resource, e.g. `{"href": "<base_url>/v2/guests/<ref>"}`."""
    return {"href": f"{base_url}{path(collection, ref, version=version)}"}


def _not_a_ref(value: object) -> CDPNotFound:
    shown = _CONTROL.sub("\ufffd", value[:80]) if isinstance(value, str) else repr(value)
    error = CDPNotFound(
        f"“{shown}” is not a CDP ref (one path segment, not “.” or “..”), so CDP was not asked."
    )
    # Nothing was sent: no attempt made, and the circuit breaker never hears of it.
    error.attempts = 0
    return error
