"""A thin client for Sitecore CDP's REST API v2: one plain function per remote call.

This is the only module that speaks HTTP. It keeps one pooled `requests.Session` per process,
authenticates with HTTP Basic (client key, API token), sets connect and read timeouts on every
call and turns every failure, whether CDP's error body, a refused connection, a timeout or a reply
that is not JSON, into a `CDPError` whose text can be shown to an agent as it is.
"""

import threading
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

import requests
from django.conf import settings

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


class CDPError(Exception):
    """CDP could not do what was asked; `str()` is a message fit to show an agent."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        developer_message: str = "",
        more_info_url: str = "",
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.developer_message = developer_message
        self.more_info_url = more_info_url


class CDPUnavailable(CDPError):
    """CDP could not be reached, timed out, was throttling or failed on its side (5xx)."""


class CDPAuthError(CDPError):
    """CDP refused the client key and API token (401) or the operation (403)."""


class CDPNotFound(CDPError):
    """CDP holds no resource at that ref (404)."""


class CDPRejected(CDPError):
    """CDP refused the request itself, usually a validation error (400, 415 or another 4xx)."""


class CDPBadResponse(CDPError):
    """CDP answered with something this client does not understand (not JSON, odd status)."""


@dataclass(frozen=True)
class Connection:
    base_url: str
    client_key: str
    # Kept out of repr(), so the token never shows in a log line, a traceback or an error page.
    api_token: str = field(repr=False)
    connect_timeout: float
    read_timeout: float


def current_connection() -> Connection:
    """Return the CDP connection to use now: the active one in the database, else the settings."""
    # Imported here because the model module imports this one.
    from cdp.models import CDPConnection

    record = CDPConnection.objects.filter(is_active=True).first()
    if record is not None:
        return record.client_connection()
    return Connection(
        base_url=settings.CDP_BASE_URL.rstrip("/"),
        client_key=settings.CDP_CLIENT_KEY,
        api_token=settings.CDP_API_TOKEN,
        connect_timeout=settings.CDP_CONNECT_TIMEOUT,
        read_timeout=settings.CDP_TIMEOUT,
    )


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


def link(collection: str, ref: str, connection: Connection | None = None) -> dict:
    """Return CDP's link object for a resource, e.g. `{"href": ".../v2/guests/<ref>"}`."""
    connection = connection or current_connection()
    return {"href": f"{connection.base_url}/v2/{collection}/{quote(ref, safe='')}"}


def ref_from_link(value) -> str:
    """Return the ref of a link object: the string after the final slash of its href."""
    if not isinstance(value, dict) or not isinstance(value.get("href"), str):
        return ""
    return urlsplit(value["href"]).path.rstrip("/").rsplit("/", 1)[-1]


def _error_from_response(response: requests.Response) -> CDPError:
    """Turn a non-success reply into the matching CDPError, keeping CDP's own message."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
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
        return CDPUnavailable(f"CDP is unavailable ({reason}): {text}", **details)
    if 400 <= status < 500:
        text = cdp_message or "CDP refused the request without saying why."
        return CDPRejected(f"CDP refused the request ({reason}): {text}", **details)
    return CDPBadResponse(f"CDP answered with an unexpected {reason}.", **details)


def _request(
    method: str,
    path: str,
    *,
    params=None,
    body=None,
    expected=(200,),
    connection: Connection | None = None,
) -> dict:
    """Make one call to CDP (as `connection`, else the current one) and return its JSON object."""
    connection = connection or current_connection()
    host = urlsplit(connection.base_url).netloc or connection.base_url
    try:
        response = _get_session().request(
            method,
            connection.base_url + path,
            params=params,
            json=body,
            auth=(connection.client_key, connection.api_token),
            timeout=(connection.connect_timeout, connection.read_timeout),
            # A redirect from CDP is unexpected; following it could send credentials elsewhere.
            allow_redirects=False,
        )
    except requests.Timeout:
        raise CDPUnavailable(
            f"CDP at {host} did not answer within {connection.read_timeout:g} seconds."
        ) from None
    except requests.ConnectionError as exc:
        raise CDPUnavailable(f"Could not reach CDP at {host}: {_reason(exc)}.") from None
    except requests.RequestException as exc:
        raise CDPUnavailable(f"The call to CDP at {host} failed: {_reason(exc)}.") from None
    if response.status_code not in expected:
        raise _error_from_response(response)
    try:
        data = response.json()
    except ValueError:
        raise CDPBadResponse(
            f"CDP answered HTTP {response.status_code} with a body that is not JSON.",
            status=response.status_code,
        ) from None
    if not isinstance(data, dict):
        raise CDPBadResponse(
            f"CDP answered HTTP {response.status_code} with JSON that is not an object.",
            status=response.status_code,
        )
    return data


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


def _path(*parts: str) -> str:
    return "/v2/" + "/".join(quote(part, safe="") for part in parts)


def _collection_refs(path: str, params: dict | None = None) -> list[str]:
    """Follow `offset`/`limit` pages of a collection and return the refs of all its items."""
    refs: list[str] = []
    offset = 0
    while True:
        page = _request(
            "GET", path, params={**(params or {}), "offset": offset, "limit": PAGE_LIMIT}
        )
        items = page.get("items")
        if not isinstance(items, list):
            raise CDPBadResponse("CDP answered with a collection that has no list of items.")
        new_refs = [ref for ref in map(ref_from_link, items) if ref and ref not in refs]
        refs.extend(new_refs)
        # CDP may cap the page below what was asked, so the page's own limit says when it is last.
        page_limit = page.get("limit") if isinstance(page.get("limit"), int) else PAGE_LIMIT
        if not new_refs or len(items) < max(page_limit, 1):
            return refs
        offset += len(items)


def get_order_consumer(ref: str) -> dict:
    """Retrieve one order consumer.

    https://doc.sitecore.com/cdp/developers/api/en/retrieve-an-order-consumer--legacy-.html
    """
    return _request("GET", _path("orderConsumers", ref))


def update_order_consumer(ref: str, record: dict) -> dict:
    """Replace an order consumer with `record` (v2 updates replace the whole resource).

    https://doc.sitecore.com/cdp/developers/api/en/update-an-order-consumer--legacy-.html
    """
    return _request("POST", _path("orderConsumers", ref), body=record, expected=(200, 201))


def list_order_consumer_refs(order_ref: str) -> list[str]:
    """List the refs of all the consumers of an order, page by page.

    https://doc.sitecore.com/cdp/developers/api/en/retrieve-order-consumer-references--legacy-.html
    """
    return _collection_refs(_path("orders", order_ref, "consumers"))


def list_order_item_refs(order_ref: str) -> list[str]:
    """List the refs of all the items of an order, page by page.

    https://doc.sitecore.com/cdp/en/developers/api/retrieve-order-item-references--legacy-.html
    """
    return _collection_refs(_path("orders", order_ref, "orderItems"))


def get_order(ref: str) -> dict:
    """Retrieve an order.

    https://doc.sitecore.com/cdp/en/developers/api/retrieve-an-order--legacy-.html
    """
    return _request("GET", _path("orders", ref))


def find_order_refs(reference_id: str) -> list[str]:
    """List the refs of the orders with this reference id (a booking reference such as a PNR).

    https://doc.sitecore.com/cdp/en/developers/api/retrieve-orders--legacy-.html
    """
    return _collection_refs("/v2/orders", {"referenceId": reference_id})


def get_guest(ref: str) -> dict:
    """Retrieve a guest.

    https://doc.sitecore.com/cdp/en/developers/api/retrieve-a-guest--legacy-.html
    """
    return _request("GET", _path("guests", ref))


def check_credentials(connection: Connection) -> dict:
    """Make the cheapest authenticated read (orders with an unused reference id) as `connection`.

    https://doc.sitecore.com/cdp/en/developers/api/retrieve-orders--legacy-.html
    """
    return _request(
        "GET",
        "/v2/orders",
        params={"referenceId": "backoffice-connection-test", "limit": 1},
        connection=connection,
    )
