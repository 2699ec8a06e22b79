"""A thin client for Sitecore CDP's REST API v2: one plain function per remote call.

Each call goes as the connection that applies now (`cdp.connection`) through `cdp.transport`,
the only module that speaks HTTP, which retries it where that is safe and turns every failure
into a `CDPError` whose text can be shown to an agent as it is.
"""

from typing import Any

from cdp import links, transport
from cdp.connection import current_connection
from cdp.transport import Connection


def get_order_consumer(ref: str) -> dict[str, Any]:
    """Retrieve one order consumer.

    https://doc.sitecore.com/cdp/developers/api/en/retrieve-an-order-consumer--legacy-.html
    """
    return transport.request(
        "GET", links.path("orderConsumers", ref), connection=current_connection()
    )


def update_order_consumer(ref: str, record: dict[str, Any]) -> dict[str, Any]:
    """Replace an order consumer with `record` (v2 updates replace the whole resource).

    The body is the whole record, so sending it twice leaves CDP in the same state as once: the
    client repeats it when CDP surely did not take it (no connection, 429, 503). When the outcome
    is unknown (read timeout, reset, 502, 504, a garbled reply) it does not, because by then
    someone else may have saved the record: the error's `failure` is `Failure.AMBIGUOUS`, and the
    caller re-reads the record and decides.

    https://doc.sitecore.com/cdp/developers/api/en/update-an-order-consumer--legacy-.html
    """
    return transport.request(
        "POST",
        links.path("orderConsumers", ref),
        body=record,
        expected=(200, 201),
        connection=current_connection(),
    )


def list_order_consumer_refs(order_ref: str) -> list[str]:
    """List the refs of all the consumers of an order, page by page.

    https://doc.sitecore.com/cdp/developers/api/en/retrieve-order-consumer-references--legacy-.html
    """
    return transport.collection_refs(
        links.path("orders", order_ref, "consumers"), connection=current_connection()
    )


def list_order_item_refs(order_ref: str) -> list[str]:
    """List the refs of all the items of an order, page by page.

    https://doc.sitecore.com/cdp/en/developers/api/retrieve-order-item-references--legacy-.html
    """
    return transport.collection_refs(
        links.path("orders", order_ref, "orderItems"), connection=current_connection()
    )


def get_order(ref: str) -> dict[str, Any]:
    """Retrieve an order.

    https://doc.sitecore.com/cdp/en/developers/api/retrieve-an-order--legacy-.html
    """
    return transport.request("GET", links.path("orders", ref), connection=current_connection())


def find_order_refs(reference_id: str) -> list[str]:
    """List the refs of the orders with this reference id (a booking reference such as a PNR).

    https://doc.sitecore.com/cdp/en/developers/api/retrieve-orders--legacy-.html
    """
    return transport.collection_refs(
        links.path("orders"), params={"referenceId": reference_id}, connection=current_connection()
    )


def find_order_refs_of_guest(guest_ref: str) -> list[str]:
    """List the refs of a guest's orders.

    https://doc.sitecore.com/cdp/en/developers/api/retrieve-orders--legacy-.html
    """
    return transport.collection_refs(
        links.path("orders"), params={"guestRef": guest_ref}, connection=current_connection()
    )


def find_guest_refs(params: dict[str, str], *, limit: int) -> tuple[list[str], bool]:
    """Search guests by `firstName`, `lastName`, `email` or `phoneNumber`; return the refs on the
    first page of at most `limit` and whether CDP may hold more.

    A common name can match thousands of guests: one page is read, never the whole collection.
    https://doc.sitecore.com/cdp/en/developers/api/retrieve-guests--legacy-.html
    """
    page = transport.request(
        "GET",
        links.path("guests"),
        params={**params, "offset": 0, "limit": limit},
        connection=current_connection(),
    )
    items = transport.collection_items(page)
    refs = list(dict.fromkeys(ref for ref in map(links.ref_from_link, items) if ref))
    # The limit CDP says it used, which may be below the one asked for.
    used = page.get("limit")
    page_limit = used if isinstance(used, int) else limit
    return refs, len(items) >= max(min(page_limit, limit), 1)


def get_guest(ref: str) -> dict[str, Any]:
    """Retrieve a guest.

    https://doc.sitecore.com/cdp/en/developers/api/retrieve-a-guest--legacy-.html
    """
    return transport.request("GET", links.path("guests", ref), connection=current_connection())


def check_credentials(connection: Connection) -> dict[str, Any]:
    """Make the cheapest authenticated read (orders with an unused reference id) as `connection`.

    One plain attempt, past the circuit breaker, so an administrator can probe CDP while calls
    are paused and see the first failure as it is.

    https://doc.sitecore.com/cdp/en/developers/api/retrieve-orders--legacy-.html
    """
    return transport.request(
        "GET",
        links.path("orders"),
        params={"referenceId": "backoffice-connection-test", "limit": 1},
        connection=connection,
        guarded=False,
    )
