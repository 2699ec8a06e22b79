"""A thin client for Sitecore CDP's REST API v2: one plain function per remote call.

This is the only module that speaks HTTP. It keeps one pooled `requests.Session` per process,
authenticates with HTTP Basic (client key, API token), sets connect and read timeouts on every
call and turns every failure, whether CDP's error body, a refused connection, a timeout or a reply
that is not JSON, into a `CDPError` whose text can be shown to an agent as it is. A failed call is
repeated where that is safe, within a time budget, and a circuit breaker stops calling a CDP that
keeps failing (the policy is in `cdp.resilience`).
"""

import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

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
from cdp.resilience import deadline as deadline  # callers bound a whole page with client.deadline
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


@dataclass(frozen=True)
class Connection:
    base_url: str
    client_key: str
    # Kept out of repr(), so the token never shows in a log line, a traceback or an error page.
    api_token: str = field(repr=False)
    connect_timeout: float
    read_timeout: float


# Inside connection_scope(): the connection looked up for it, once (a list, empty until then).
_scoped_connection: ContextVar[list | None] = ContextVar("cdp_scoped_connection", default=None)


@contextmanager
def connection_scope() -> Iterator[None]:
    """Look the CDP connection up once for everything inside (a page, a bulk refresh).

    Threads started inside must run in a copy of this context (`contextvars.copy_context`) to
    share it; they then make no database query for it.
    """
    if _scoped_connection.get() is not None:
        yield
        return
    token = _scoped_connection.set([])
    try:
        yield
    finally:
        _scoped_connection.reset(token)


def current_connection() -> Connection:
    """Return the CDP connection to use now: the active one in the database, else the settings."""
    memo = _scoped_connection.get()
    if memo:
        return memo[0]
    connection = _load_connection()
    if memo is not None:
        memo.append(connection)
    return connection


def _load_connection() -> Connection:
    # Imported here because the model module imports this one.
    from cdp.models import CDPConnection

    record = CDPConnection.objects.filter(is_active=True).first()
    if record is not None:
        try:
            return record.client_connection()
        except ImproperlyConfigured as error:
            # A missing or rotated-away FIELD_ENCRYPTION_KEY: every page says so, none crashes.
            raise CDPAuthError(
                f"The CDP connection “{record.name}” cannot be used: {error} Ask an administrator."
            ) from None
    return Connection(
        base_url=settings.CDP_BASE_URL.rstrip("/"),
        client_key=settings.CDP_CLIENT_KEY,
        api_token=settings.CDP_API_TOKEN,
        connect_timeout=settings.CDP_CONNECT_TIMEOUT,
        read_timeout=settings.CDP_TIMEOUT,
    )


def _refuse_unless_allowed(connection: Connection) -> None:
    """Raise CDPHostNotAllowed, before anything is sent, if the connection's host is not allowed."""
    why = host_refusal(connection.base_url)
    if why:
        raise CDPHostNotAllowed(f"CDP was not called and no credentials were sent: {why}")


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


def link(collection: str, ref: str, connection: Connection | None = None) -> dict[str, str]:
    """Return CDP's link object for a resource under `connection`, else the current one."""
    path = links.path(collection, ref)  # a bad ref is refused before the connection is looked up
    return {"href": f"{(connection or current_connection()).base_url}{path}"}


def _error_from_response(response: requests.Response) -> CDPError:
    """Turn a non-success reply into the matching CDPError, keeping CDP's own message."""
    status = response.status_code
    try:
        body = response.json()
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        body = {}
    cdp_message = body.get("message") if isinstance(body.get("message"), str) else ""
    reason = f"HTTP {status} {_STATUS_NAMES.get(status, response.reason or '')}".strip()
    details = {
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


# Below this many seconds left in a budget, another attempt could not get an answer anyway.
_MIN_ATTEMPT_SECONDS = 0.01


def _request(
    method: str,
    path: str,
    *,
    params=None,
    body=None,
    expected=(200,),
    connection: Connection | None = None,
    guarded: bool = True,
) -> dict:
    """Call CDP (as `connection`, else the current one) and return its JSON object.

    A guarded call goes through the circuit breaker and is retried where that is safe; an
    unguarded one is a single plain attempt (still bounded by the page's deadline).
    """
    connection = connection or current_connection()
    # The lowest level, so no caller (page, worker, connection test) can send a token elsewhere;
    # before the circuit breaker, which must not count a call that was never made.
    _refuse_unless_allowed(connection)
    # The token is masked in every log line from now on, wherever it came from (core.logging).
    remember_secret(connection.api_token)
    policy = resilience.Policy.from_settings()
    if not guarded:
        policy = replace(policy, attempts=1)
    end = resilience.call_deadline(policy.budget)
    call = {"params": params, "body": body, "expected": expected, "connection": connection}
    if not guarded:
        return _call_with_retries(method, path, policy=policy, end=end, **call)

    breaker = _breaker(connection)
    admission = breaker.admit(trial_seconds=end - time.monotonic())
    if not admission.allowed:
        raise _circuit_open(admission)
    try:
        data = _call_with_retries(method, path, policy=policy, end=end, **call)
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


def _call_with_retries(
    method: str, path: str, *, params, body, expected, connection: Connection, policy, end: float
) -> dict:
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
        error = CDPUnavailable(
            f"CDP at {host} was not called: the time allowed for calls to CDP had run out."
        )
        error.attempts = 0
        raise error
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


def _attempt(
    method: str,
    path: str,
    params,
    body,
    expected,
    connection: Connection,
    timeout: tuple[float, float],
    host: str,
) -> dict:
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


def _never_connected(exc: requests.ConnectionError) -> bool:
    """Say whether the connection failed before any of the request could have been sent."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    # urllib3's NewConnectionError (refused, unknown host) is a ConnectTimeoutError too.
    return isinstance(reason, urllib3.exceptions.ConnectTimeoutError)


def _seconds(value: float) -> str:
    return f"{round(value, 2):g}"


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


def breaker_status(connection: Connection | None = None) -> BreakerStatus:
    """Return the circuit breaker's state for `connection`, else for the current connection."""
    return _breaker(connection or current_connection()).status()


def breaker_reset(connection: Connection | None = None) -> None:
    """Close the circuit breaker for `connection`, else for the current connection."""
    _breaker(connection or current_connection()).reset()


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


def _collection_refs(path: str, params: dict | None = None) -> list[str]:
    """Follow `offset`/`limit` pages of a collection and return the refs of all its items."""
    refs: list[str] = []
    offset = 0
    while True:
        page = _request(
            "GET", path, params={**(params or {}), "offset": offset, "limit": PAGE_LIMIT}
        )
        items = _items(page)
        new_refs = [ref for ref in map(links.ref_from_link, items) if ref and ref not in refs]
        refs.extend(new_refs)
        # CDP may cap the page below what was asked, so the page's own limit says when it is last.
        page_limit = page.get("limit") if isinstance(page.get("limit"), int) else PAGE_LIMIT
        if not new_refs or len(items) < max(page_limit, 1):
            return refs
        offset += len(items)


def _items(page: dict) -> list:
    """The items of a collection page, as CDP documents them: a list."""
    items = page.get("items")
    if not isinstance(items, list):
        raise CDPBadResponse("CDP answered with a collection that has no list of items.")
    return items


def get_order_consumer(ref: str) -> dict:
    """Retrieve one order consumer.

    https://doc.sitecore.com/cdp/developers/api/en/retrieve-an-order-consumer--legacy-.html
    """
    return _request("GET", links.path("orderConsumers", ref))


def update_order_consumer(ref: str, record: dict) -> dict:
    """Replace an order consumer with `record` (v2 updates replace the whole resource).

    The body is the whole record, so sending it twice leaves CDP in the same state as once: the
    client repeats it when CDP surely did not take it (no connection, 429, 503). When the outcome
    is unknown (read timeout, reset, 502, 504, a garbled reply) it does not, because by then
    someone else may have saved the record: the error's `failure` is `Failure.AMBIGUOUS`, and the
    caller re-reads the record and decides.

    https://doc.sitecore.com/cdp/developers/api/en/update-an-order-consumer--legacy-.html
    """
    return _request("POST", links.path("orderConsumers", ref), body=record, expected=(200, 201))


def list_order_consumer_refs(order_ref: str) -> list[str]:
    """List the refs of all the consumers of an order, page by page.

    https://doc.sitecore.com/cdp/developers/api/en/retrieve-order-consumer-references--legacy-.html
    """
    return _collection_refs(links.path("orders", order_ref, "consumers"))


def list_order_item_refs(order_ref: str) -> list[str]:
    """List the refs of all the items of an order, page by page.

    https://doc.sitecore.com/cdp/en/developers/api/retrieve-order-item-references--legacy-.html
    """
    return _collection_refs(links.path("orders", order_ref, "orderItems"))


def get_order(ref: str) -> dict:
    """Retrieve an order.

    https://doc.sitecore.com/cdp/en/developers/api/retrieve-an-order--legacy-.html
    """
    return _request("GET", links.path("orders", ref))


def find_order_refs(reference_id: str) -> list[str]:
    """List the refs of the orders with this reference id (a booking reference such as a PNR).

    https://doc.sitecore.com/cdp/en/developers/api/retrieve-orders--legacy-.html
    """
    return _collection_refs(links.path("orders"), {"referenceId": reference_id})


def find_order_refs_of_guest(guest_ref: str) -> list[str]:
    """List the refs of a guest's orders.

    https://doc.sitecore.com/cdp/en/developers/api/retrieve-orders--legacy-.html
    """
    return _collection_refs(links.path("orders"), {"guestRef": guest_ref})


def find_guest_refs(params: dict[str, str], *, limit: int) -> tuple[list[str], bool]:
    """Search guests by `firstName`, `lastName`, `email` or `phoneNumber`; return the refs on the
    first page of at most `limit` and whether CDP may hold more.

    A common name can match thousands of guests: one page is read, never the whole collection.
    https://doc.sitecore.com/cdp/en/developers/api/retrieve-guests--legacy-.html
    """
    page = _request("GET", links.path("guests"), params={**params, "offset": 0, "limit": limit})
    items = _items(page)
    refs = list(dict.fromkeys(ref for ref in map(links.ref_from_link, items) if ref))
    page_limit = page.get("limit") if isinstance(page.get("limit"), int) else limit
    return refs, len(items) >= max(min(page_limit, limit), 1)


def get_guest(ref: str) -> dict:
    """Retrieve a guest.

    https://doc.sitecore.com/cdp/en/developers/api/retrieve-a-guest--legacy-.html
    """
    return _request("GET", links.path("guests", ref))


def check_credentials(connection: Connection) -> dict:
    """Make the cheapest authenticated read (orders with an unused reference id) as `connection`.

    One plain attempt, past the circuit breaker, so an administrator can probe CDP while calls
    are paused and see the first failure as it is.

    https://doc.sitecore.com/cdp/en/developers/api/retrieve-orders--legacy-.html
    """
    return _request(
        "GET",
        links.path("orders"),
        params={"referenceId": "backoffice-connection-test", "limit": 1},
        connection=connection,
        guarded=False,
    )


# --- Transitional re-exports --------------------------------------------------------------------
# consumers/ still reads these names from cdp.client. They belong to cdp.links; this block goes
# once consumers/ imports them from there. Nothing else may use it.
is_ref = links.is_ref
is_valid_ref = links.is_valid_ref
parse_link = links.parse_link
ref_from_link = links.ref_from_link
