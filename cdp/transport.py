"""How a call reaches CDP: the one module that speaks HTTP, given the connection to call as.

It keeps one pooled `requests.Session` per process, authenticates with HTTP Basic (client key,
API token), sets connect and read timeouts on every call and turns every failure, whether CDP's
error body, a refused connection, a timeout or a reply that is not JSON, into a `CDPError` whose
text can be shown to an agent as it is. A failed call is repeated where that is safe, within a
time budget, and a circuit breaker stops calling a CDP that keeps failing (the policy is in
`cdp.resilience`). Which connection to call as is the caller's to say (`cdp.connection`): this
module knows nothing of the database.
"""

import logging
import math
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypedDict
from urllib.parse import parse_qsl, urlsplit

import requests
import urllib3.exceptions

from cdp import links, resilience
from cdp.errors import (
    CDPAuthError,
    CDPBadResponse,
    CDPCircuitOpen,
    CDPError,
    CDPHostNotAllowed,
    CDPNotFound,
    CDPRejected,
    CDPUnavailable,
    Failure,
)
from cdp.hosts import host_refusal
from cdp.resilience import BreakerStatus
from core.logging import NO_REQUEST, current_request_id, remember_secret

logger = logging.getLogger(__name__)

# Documented HTTP statuses and what to call them in a message (REST API "response codes" page).
_STATUS_NAMES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
# The documented maximum page size for collections (using-a-collection-resource.html).
PAGE_LIMIT = 100
# Below this many seconds left in a budget, another attempt could not get an answer anyway.
_MIN_ATTEMPT_SECONDS = 0.01

# A query string's parameters, as `requests` takes them.
Params = Mapping[str, str | int]


@dataclass(frozen=True)
class Connection:
    """Where and as whom to call CDP, and how long to wait for it."""

    base_url: str
    client_key: str
    # Kept out of repr(), so the token never shows in a log line, a traceback or an error page.
    api_token: str = field(repr=False)
    connect_timeout: float
    read_timeout: float
    # Which of CDP's REST APIs to speak (`links.API_VERSIONS`): its paths, links and update verb.
    api_version: str = links.API_VERSION

    def path(self, *segments: str) -> str:
        """Return the path of a resource in this connection's API version (refusing a bad ref)."""
        return links.path(*segments, version=self.api_version)

    def link(self, collection: str, ref: str) -> dict[str, str]:
        """Return CDP's link object for a resource of this connection's CDP and API version."""
        return links.link(self.base_url, collection, ref, version=self.api_version)


# --- time budgets --------------------------------------------------------------------------------

# The monotonic time by which every CDP call made in this context must be over, if any.
_page_deadline: ContextVar[float | None] = ContextVar("cdp_page_deadline", default=None)


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Bound all the CDP calls made inside the block, retries and waits included, to `seconds`."""
    if seconds is None:
        yield
        return
    end = time.monotonic() + max(0.0, seconds)
    current = _page_deadline.get()
    # A nested bound can only tighten the one around it.
    token = _page_deadline.set(end if current is None else min(current, end))
    try:
        yield
    finally:
        _page_deadline.reset(token)


def _call_deadline(budget: float) -> float:
    """Return the monotonic time by which a call starting now must end."""
    end = time.monotonic() + budget
    page = _page_deadline.get()
    return end if page is None else min(end, page)


# --- one call: the breaker, then the retries, then single attempts -------------------------------


def request(
    method: str,
    path: str,
    *,
    connection: Connection,
    params: Params | None = None,
    body: Mapping[str, Any] | None = None,
    expected: tuple[int, ...] = (200,),
    guarded: bool = True,
) -> dict[str, Any]:
    """Call CDP as `connection` and return its JSON object, or raise the matching CDPError.

    A guarded call goes through the circuit breaker and is retried where that is safe; an
    unguarded one is a single plain attempt (still bounded by the page's deadline).
    """
    # The lowest level, so no caller (page, worker, connection test) can send a token elsewhere;
    # before the circuit breaker, which must not count a call that was never made.
    _refuse_unless_allowed(connection)
    # The token is masked in every log line from now on, wherever it came from (core.logging).
    remember_secret(connection.api_token)
    policy = resilience.Policy.from_settings()
    if not guarded:
        policy = replace(policy, attempts=1)
    end = _call_deadline(policy.budget)
    call = partial(
        _call_with_retries,
        method,
        path,
        params=params,
        body=body,
        expected=expected,
        connection=connection,
        policy=policy,
        end=end,
    )
    if not guarded:
        return call()

    breaker = _breaker(connection)
    admission = breaker.admit(trial_seconds=end - time.monotonic())
    if not admission.allowed:
        raise _circuit_open(admission)
    try:
        data = call()
    except CDPUnavailable as error:
        # Only CDP failing counts, not a budget that ran out before anything was sent.
        if error.attempts:
            breaker.record_failure(admission, policy)
        else:
            breaker.record_neither(admission)
        raise
    except CDPBadResponse:
        breaker.record_neither(admission)
        raise
    except CDPError:
        # CDP answered, if only to refuse (4xx): it is up.
        breaker.record_success(admission, method=method)
        raise
    except BaseException:
        breaker.record_neither(admission)
        raise
    breaker.record_success(admission, method=method)
    return data


def _refuse_unless_allowed(connection: Connection) -> None:
    """Raise CDPHostNotAllowed, before anything is sent, if the connection's host is not allowed."""
    why = host_refusal(connection.base_url)
    if why:
        raise CDPHostNotAllowed(f"CDP was not called and no credentials were sent: {why}")


def _call_with_retries(
    method: str,
    path: str,
    *,
    params: Params | None,
    body: Mapping[str, Any] | None,
    expected: tuple[int, ...],
    connection: Connection,
    policy: resilience.Policy,
    end: float,
) -> dict[str, Any]:
    """Make attempts until one succeeds, a failure must not be repeated, or time runs out."""
    host = urlsplit(connection.base_url).netloc or connection.base_url
    allowed = max(0.0, end - time.monotonic())
    last: CDPError | None = None
    for attempt in range(1, policy.attempts + 1):
        left = end - time.monotonic()
        if left < _MIN_ATTEMPT_SECONDS:
            break
        # No single attempt may outlast the budget, so neither may the call.
        timeout = (min(connection.connect_timeout, left), min(connection.read_timeout, left))
        try:
            return _attempt(method, path, params, body, expected, connection, timeout, host)
        except CDPError as error:
            error.attempts = attempt
            last = error
            if attempt == policy.attempts or not resilience.should_retry(method, error.failure):
                raise _give_up(error) from None
            delay = resilience.backoff_delay(attempt, base=policy.backoff, cap=policy.backoff_max)
            if attempt == 1 and resilience.retry_at_once(error.status, error.retry_after):
                delay = 0.0
            if error.retry_after is not None:
                # CDP said when to come back; coming back sooner would only be refused again.
                delay = error.retry_after
                if time.monotonic() + delay > end:
                    wait = math.ceil(error.retry_after)
                    raise _give_up(
                        error,
                        f"CDP asked to wait {wait} second{'s' if wait != 1 else ''}, "
                        "longer than the time left for this call",
                    ) from None
            if time.monotonic() + delay + _MIN_ATTEMPT_SECONDS >= end:
                break
            logger.info(
                "CDP %s %s failed (%s, HTTP %s); attempt %d of %d in %.2f seconds.",
                method,
                path,
                type(error).__name__,
                error.status or "-",
                attempt + 1,
                policy.attempts,
                delay,
            )
            resilience.wait(delay)
    if last is None:
        not_called = CDPUnavailable(
            f"CDP at {host} was not called: the time allowed for calls to CDP had run out."
        )
        not_called.attempts = 0
        raise not_called
    raise _give_up(last, f"the {_seconds(allowed)} seconds allowed for this call ran out")


def _give_up(error: CDPError, why: str = "") -> CDPError:
    """Say in the error's message how many attempts were made, and why they stopped."""
    if error.attempts > 1:
        head = f"Gave up after {error.attempts} attempts"
    elif why:
        head = "Gave up"
    else:
        return error
    error.amend(f"{error.message} {head}: {why}." if why else f"{error.message} {head}.")
    return error


# --- one attempt ---------------------------------------------------------------------------------

_session: requests.Session | None = None
_session_lock = threading.Lock()


def _get_session() -> requests.Session:
    """Return the process's pooled session, creating it on first use."""
    global _session
    with _session_lock:
        if _session is None:
            session = requests.Session()
            session.headers.update(
                {"Accept": "application/json", "Content-Type": "application/json"}
            )
            # Retries belong to the caller, who knows whether a call is safe to repeat.
            adapter = requests.adapters.HTTPAdapter(pool_maxsize=32, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            # Never pick up proxies or credentials from ~/.netrc or the environment by accident.
            session.trust_env = False
            _session = session
        return _session


def _attempt(
    method: str,
    path: str,
    params: Params | None,
    body: Mapping[str, Any] | None,
    expected: tuple[int, ...],
    connection: Connection,
    timeout: tuple[float, float],
    host: str,
) -> dict[str, Any]:
    """Send the request once and return its JSON object, or raise the matching CDPError."""
    # The id of the request (or queued edit) this call serves, so it can be traced in CDP too.
    request_id = current_request_id()
    try:
        response = _get_session().request(
            method,
            connection.base_url + path,
            params=params,
            json=body,
            headers={"X-Request-ID": request_id} if request_id != NO_REQUEST else None,
            auth=(connection.client_key, connection.api_token),
            timeout=timeout,
            # A redirect from CDP is unexpected; following it could send credentials elsewhere.
            allow_redirects=False,
        )
    except requests.ConnectTimeout:
        raise CDPUnavailable(
            f"CDP at {host} did not accept a connection within {_seconds(timeout[0])} seconds.",
            failure=Failure.NOT_SENT,
        ) from None
    except requests.Timeout:
        raise CDPUnavailable(
            f"CDP at {host} did not answer within {_seconds(timeout[1])} seconds.",
            failure=Failure.AMBIGUOUS,
        ) from None
    except requests.ConnectionError as exc:
        failure = Failure.NOT_SENT if _never_connected(exc) else Failure.AMBIGUOUS
        raise CDPUnavailable(
            f"Could not reach CDP at {host}: {_reason(exc)}.", failure=failure
        ) from None
    except requests.RequestException as exc:
        # A base URL that is not valid (a ValueError) stays so; anything else, such as a reply
        # cut short, broke off after the request was sent.
        failure = Failure.FINAL if isinstance(exc, ValueError) else Failure.AMBIGUOUS
        raise CDPUnavailable(
            f"The call to CDP at {host} failed: {_reason(exc)}.", failure=failure
        ) from None
    if response.status_code not in expected:
        raise _error_from_response(response)
    try:
        data = response.json()
    except (ValueError, RecursionError):
        # A garbled (or absurdly nested) reply is usually a hiccup on the way, worth another try
        # for a read.
        raise CDPBadResponse(
            f"CDP answered HTTP {response.status_code} with a body that is not JSON.",
            status=response.status_code,
            failure=Failure.AMBIGUOUS,
        ) from None
    if not isinstance(data, dict):
        raise CDPBadResponse(
            f"CDP answered HTTP {response.status_code} with JSON that is not an object.",
            status=response.status_code,
        )
    return data


class _Details(TypedDict, total=False):
    """What an error keeps of a reply, besides its message."""

    status: int
    code: str
    developer_message: str
    more_info_url: str
    retry_after: float | None
    failure: Failure


def _error_from_response(response: requests.Response) -> CDPError:
    """Turn a non-success reply into the matching CDPError, keeping CDP's own message."""
    status = response.status_code
    try:
        body = response.json()
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        body = {}
    cdp_message = _cdp_text(body.get("message"), body.get("developerMessage"))
    reason = f"HTTP {status} {_STATUS_NAMES.get(status, response.reason or '')}".strip()
    details: _Details = {
        "status": status,
        "code": str(body.get("code", "")),
        "developer_message": str(body.get("developerMessage", "") or ""),
        "more_info_url": str(body.get("moreInfoUrl", "") or ""),
    }
    if status in (401, 403):
        text = cdp_message or "CDP refused the client key and API token."
        return CDPAuthError(f"CDP refused access ({reason}): {text}", **details)
    if status == 404:
        text = cdp_message or "CDP has no such record."
        return CDPNotFound(f"Not found in CDP ({reason}): {text}", **details)
    if status == 429 or status >= 500:
        text = cdp_message or "CDP is not able to answer right now; try again in a moment."
        if status in (429, 503):
            # CDP declined the request as a whole, and may say when to come back.
            details["failure"] = Failure.DECLINED
            details["retry_after"] = resilience.parse_retry_after(
                response.headers.get("Retry-After")
            )
        elif status in (502, 504):
            # A gateway lost or gave up on CDP's answer; CDP itself may have done the work.
            details["failure"] = Failure.AMBIGUOUS
        return CDPUnavailable(f"CDP is unavailable ({reason}): {text}", **details)
    if 400 <= status < 500:
        text = cdp_message or "CDP refused the request without saying why."
        return CDPRejected(f"CDP refused the request ({reason}): {text}", **details)
    return CDPBadResponse(f"CDP answered with an unexpected {reason}.", **details)


def _cdp_text(message: object, developer_message: object) -> str:
    """Return what CDP said, for an agent: its `message`, and its `developerMessage` if it adds.

    CDP's 404 says "The specified resource does not exist." in `message` and which one in
    `developerMessage` ("Guest with ref … was not found"); a 400 says the same in both.
    """
    text = message.strip() if isinstance(message, str) else ""
    detail = developer_message.strip() if isinstance(developer_message, str) else ""
    if not detail or detail in text:
        return text
    if not text:
        return detail
    return f"{text}{'' if text.endswith(('.', '!', '?')) else '.'} {detail}"


def _never_connected(exc: requests.ConnectionError) -> bool:
    """Say whether the connection failed before any of the request could have been sent."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    # urllib3's NewConnectionError (refused, unknown host) is a ConnectTimeoutError too.
    return isinstance(reason, urllib3.exceptions.ConnectTimeoutError)


def _reason(exc: requests.RequestException) -> str:
    """Name the low-level cause of a failed call in a few words."""
    text = str(exc).lower()
    for needle, reason in (
        ("refused", "connection refused"),
        ("reset", "connection reset"),
        ("name or service not known", "unknown host name"),
        ("nodename nor servname", "unknown host name"),
        ("certificate", "TLS certificate not trusted"),
        ("remotedisconnected", "connection closed without a reply"),
        ("connection aborted", "connection closed without a reply"),
        ("incompleteread", "the reply was cut short"),
        ("invalid url", "the CDP base URL is not valid"),
        ("no connection adapters", "the CDP base URL is not valid"),
    ):
        if needle in text:
            return reason
    return type(exc).__name__


def _seconds(value: float) -> str:
    return f"{round(value, 2):g}"


# --- collections ---------------------------------------------------------------------------------


def collection_pages(
    path: str, *, connection: Connection, params: Params | None = None
) -> Iterator[dict[str, Any]]:
    """Yield the pages of a collection, following `next.href` when CDP gives one (v2.1), else
    `offset`/`limit`, until a page brings nothing new or is the last (its offset is the `last`
    link's, or it holds fewer items than its limit).

    A `next` link is followed only to this collection on this connection's host: it comes from
    CDP's answer, and the call carries the credentials.
    """
    query: dict[str, str | int] = {**(params or {}), "offset": 0, "limit": PAGE_LIMIT}
    seen: set[str] = set()
    while True:
        page = request("GET", path, params=query, connection=connection)
        items = collection_items(page)
        refs = {ref for ref in map(links.ref_of_item, items) if ref}
        new = refs - seen
        seen |= refs
        yield page
        if not new:
            return
        following = _link_query(page, "next", path, connection)
        if following is not None:
            query = {**query, **following}
            continue
        # No `next`: the `last` link (v2 lists carry one too) says whether this is the last page.
        last = _link_query(page, "last", path, connection) or {}
        if str(last.get("offset", "")) == str(query.get("offset")):
            return
        # CDP may cap the page below what was asked, so the page's own limit says when it is last.
        limit = page.get("limit")
        page_limit = limit if isinstance(limit, int) else PAGE_LIMIT
        if len(items) < max(page_limit, 1):
            return
        query = {**query, "offset": int(query.get("offset", 0)) + len(items)}


def _link_query(
    page: dict[str, Any], name: str, path: str, connection: Connection
) -> dict[str, str] | None:
    """Return the query of a page's link (`next`, `last`), if it names this collection on this
    connection's host; else None."""
    following = page.get(name)
    href = following.get("href") if isinstance(following, dict) else None
    if not isinstance(href, str):
        return None
    try:
        target, base = urlsplit(href), urlsplit(connection.base_url)
    except ValueError:
        return None
    same_place = (target.scheme, target.netloc) == (base.scheme, base.netloc)
    if not same_place or target.path.rstrip("/") != path.rstrip("/"):
        return None
    return dict(parse_qsl(target.query))


def collection_refs(
    path: str, *, connection: Connection, params: Params | None = None
) -> list[str]:
    """Return the refs of all the items of a collection (`items[].ref`, else from the href)."""
    refs: list[str] = []
    for page in collection_pages(path, connection=connection, params=params):
        for ref in map(links.ref_of_item, collection_items(page)):
            if ref and ref not in refs:
                refs.append(ref)
    return refs


def collection_items(page: dict[str, Any]) -> list[Any]:
    """Return the items of a collection page, as CDP documents them: a list."""
    items = page.get("items")
    if not isinstance(items, list):
        raise CDPBadResponse("CDP answered with a collection that has no list of items.")
    return items


# --- the circuit breaker's state -----------------------------------------------------------------


def breaker_status(connection: Connection) -> BreakerStatus:
    """Return the circuit breaker's state for `connection`."""
    return _breaker(connection).status()


def breaker_reset(connection: Connection) -> None:
    """Close the circuit breaker for `connection`."""
    _breaker(connection).reset()


def _breaker(connection: Connection) -> resilience.Breaker:
    # One breaker per CDP account and host, so testing another connection cannot trip this one.
    return resilience.Breaker(f"{connection.base_url.rstrip('/')}\n{connection.client_key}")


def _circuit_open(admission: resilience.Admission) -> CDPCircuitOpen:
    count = admission.failures
    failed = f"{count} call{'s' if count != 1 else ''} in a row failed"
    if admission.open_until is not None and time.time() < admission.open_until:
        until = datetime.fromtimestamp(admission.open_until, UTC)
        return CDPCircuitOpen(
            f"CDP is unavailable: {failed}, so calls are paused until {until:%H:%M:%S} UTC.",
            open_until=until,
        )
    return CDPCircuitOpen(
        f"CDP is unavailable: {failed}, and one call is now checking whether it is back. "
        "Try again in a moment."
    )
