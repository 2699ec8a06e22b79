"""A thin client for Sitecore CDP's REST API, v2 or v2.1: one plain function per remote call.

Each call goes as the connection that applies now (`cdp.connection`) through `cdp.transport`,
the only module that speaks HTTP, which retries it where that is safe and turns every failure
into a `CDPError` whose text can be shown to an agent as it is. The connection says which API
version it speaks (`Connection.api_version`): the paths, the links and how a record is updated
follow from it; what differs between the versions is in docs/cdp-versions.md.
"""

from collections.abc import Mapping
from typing import Any

from cdp import erasures, links, transport
from cdp.connection import current_connection
from cdp.errors import CDPRejected
from cdp.transport import Connection

V2_1 = "v2.1"


def get_order_consumer(ref: str) -> dict[str, Any]:
    """Retrieve one order consumer.

    v2: https://doc.sitecore.com/cdp/developers/api/en/retrieve-an-order-consumer--legacy-.html
    v2.1: https://api-docs.sitecore.com/cdp/order-rest-api/order-consumer/retrieveorderconsumer
    """
    connection = current_connection()
    path = connection.path("orderConsumers", ref)
    return erasures.guard(lambda: transport.request("GET", path, connection=connection), ref=ref)


def update_order_consumer(
    ref: str, record: Mapping[str, Any], *, changed: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Update an order consumer the way the connection's API version does it.

    `record` is the whole record as it should be (what CDP sets itself left out); `changed` the
    attributes that change, a cleared one as None. v2 replaces the whole resource with `record`
    (`POST`). v2.1 sends only `changed` (`PATCH`), so attributes this back office never read
    cannot be touched; with no `changed`, or when CDP refuses a null meant to clear an attribute
    (how PATCH clears is not documented), it replaces the record with `PUT` instead, where an
    attribute left out is cleared.

    Each of these is idempotent in effect: sending the same whole record, or setting the same
    attributes to the same values, twice leaves CDP as once. So the client repeats it when CDP
    surely did not take it (no connection, 429, 503). When the outcome is unknown (read timeout,
    reset, 502, 504, a garbled reply) it does not, because by then someone else may have saved
    the record and the repeat would undo their change: the error's `failure` is
    `Failure.AMBIGUOUS`, and the caller re-reads the record and decides.

    v2: https://doc.sitecore.com/cdp/developers/api/en/update-an-order-consumer--legacy-.html
    v2.1 (PATCH/PUT as for the other v2.1 resources): https://doc.sitecore.com/cdp/en/developers/
    api/differences-between-v2-and-v2-1-of-the-order-rest-apis.html
    """
    connection = current_connection()
    path = connection.path("orderConsumers", ref)

    def send() -> dict[str, Any]:
        if connection.api_version != V2_1:
            return transport.request(
                "POST", path, body=record, expected=(200, 201), connection=connection
            )
        if changed is not None:
            try:
                return transport.request(
                    "PATCH", path, body=changed, expected=(200, 201), connection=connection
                )
            except CDPRejected as error:
                if not _refuses_a_null(error, changed):
                    raise
                # CDP will not clear by null: replace the record, leaving the cleared ones out.
        return transport.request(
            "PUT", path, body=record, expected=(200, 201), connection=connection
        )

    # The whole record names every link it keeps, so the guard sees an erased guest in either.
    return erasures.guard(send, ref=ref, body=dict(record))


def _refuses_a_null(error: CDPRejected, changed: Mapping[str, Any]) -> bool:
    """Say whether CDP's refusal of a PATCH names an attribute it was sent as null (to clear)."""
    said = f"{error.developer_message} {error.answer}"
    return any(value is None and f"{name}:" in said for name, value in changed.items())


def list_order_consumer_refs(order_ref: str) -> list[str]:
    """List the refs of all the consumers of an order, page by page.

    https://doc.sitecore.com/cdp/developers/api/en/retrieve-order-consumer-references--legacy-.html
    """
    connection = current_connection()
    return transport.collection_refs(
        connection.path("orders", order_ref, "consumers"), connection=connection
    )


def list_order_consumers(order_ref: str) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """List an order's consumer refs and, where CDP expands them, their records.

    v2.1 collections take `expand=true` "to expand items in a collection" (documented for
    contacts and orders; for consumers inferred): when the items come back as whole records
    (they carry names), they are returned in the second value and need no call each. v2, or a
    CDP that does not expand them, gives refs only: the caller reads each record itself.
    https://api-docs.sitecore.com/cdp/order-rest-api/order-contact/retrieveordercontacts
    """
    connection = current_connection()
    path = connection.path("orders", order_ref, "consumers")
    params = {"expand": "true"} if connection.api_version == V2_1 else None
    refs: list[str] = []
    records: dict[str, dict[str, Any]] = {}
    for page in transport.collection_pages(path, connection=connection, params=params):
        for item in transport.collection_items(page):
            ref = links.ref_of_item(item)
            if not ref or ref in refs:
                continue
            refs.append(ref)
            if isinstance(item, dict) and isinstance(item.get("firstName"), str):
                records[ref] = item
    return refs, records


def list_order_item_refs(order_ref: str) -> list[str]:
    """List the refs of all the items of an order, page by page.

    https://doc.sitecore.com/cdp/en/developers/api/retrieve-order-item-references--legacy-.html
    """
    connection = current_connection()
    return transport.collection_refs(
        connection.path("orders", order_ref, "orderItems"), connection=connection
    )


def get_order(ref: str) -> dict[str, Any]:
    """Retrieve an order.

    https://doc.sitecore.com/cdp/en/developers/api/retrieve-an-order--legacy-.html
    """
    connection = current_connection()
    return transport.request("GET", connection.path("orders", ref), connection=connection)


def get_order_with_items(ref: str) -> dict[str, Any]:
    """Retrieve an order with its items expanded (`orderItems.items` holds the whole items).

    https://doc.sitecore.com/cdp/en/developers/sitecore-customer-data-platform--data-model-2-0/using-the-retrieve-order-expand-order-items-function-in-sitecore-cdp-rest-api.html
    """
    return transport.request(
        "GET",
        links.path("orders", ref),
        params={"expand": "orderItems"},
        connection=current_connection(),
    )


def get_order_item(ref: str) -> dict[str, Any]:
    """Retrieve one order item.

    https://doc.sitecore.com/cdp/en/developers/api/retrieve-an-order--legacy-.html (item fields)
    """
    return transport.request("GET", links.path("orderItems", ref), connection=current_connection())


def find_order_refs(reference_id: str) -> list[str]:
    """List the refs of the orders with this reference id (a booking reference such as a PNR).

    v2: https://doc.sitecore.com/cdp/en/developers/api/retrieve-orders--legacy-.html
    v2.1: https://api-docs.sitecore.com/cdp/order-rest-api/order/retrieveorders
    """
    connection = current_connection()
    return transport.collection_refs(
        connection.path("orders"), params={"referenceId": reference_id}, connection=connection
    )


def find_order_refs_of_guest(guest_ref: str) -> list[str]:
    """List the refs of the orders a guest owns, as their contact (not those they travel on).

    In CDP's model the order contact is the owner and a consumer a traveller; the list is by
    owner (docs/cdp-versions.md). v2.1 lists them in the order they were placed (`sort`).
    v2: https://doc.sitecore.com/cdp/en/developers/api/retrieve-orders--legacy-.html
    v2.1: https://api-docs.sitecore.com/cdp/order-rest-api/order/retrieveorders
    """
    connection = current_connection()
    params: dict[str, str] = {"guestRef": guest_ref}
    if connection.api_version == V2_1:
        params["sort"] = "orderedAt"
    return erasures.guard(
        lambda: {
            "refs": transport.collection_refs(
                connection.path("orders"), params=params, connection=connection
            )
        },
        ref=guest_ref,
        confirm=False,
    )["refs"]


def find_guest_refs(params: dict[str, str], *, limit: int) -> tuple[list[str], bool]:
    """Search guests by `firstName`, `lastName`, `email` or `phoneNumber`; return the refs on the
    first page of at most `limit` and whether CDP may hold more.

    A common name can match thousands of guests: one page is read, never the whole collection.
    https://doc.sitecore.com/cdp/en/developers/api/retrieve-guests--legacy-.html
    """
    connection = current_connection()
    page = transport.request(
        "GET",
        connection.path("guests"),
        params={**params, "offset": 0, "limit": limit},
        connection=connection,
    )
    items = transport.collection_items(page)
    refs = list(dict.fromkeys(ref for ref in map(links.ref_of_item, items) if ref))
    # The limit CDP says it used, which may be below the one asked for.
    used = page.get("limit")
    page_limit = used if isinstance(used, int) else limit
    more = isinstance(page.get("next"), dict) or len(items) >= max(min(page_limit, limit), 1)
    return refs, more


def get_guest(ref: str) -> dict[str, Any]:
    """Retrieve a guest.

    https://doc.sitecore.com/cdp/en/developers/api/retrieve-a-guest--legacy-.html
    """
    connection = current_connection()
    path = connection.path("guests", ref)
    return erasures.guard(lambda: transport.request("GET", path, connection=connection), ref=ref)


def check_credentials(connection: Connection) -> dict[str, Any]:
    """Make the cheapest authenticated read (orders with an unused reference id) as `connection`.

    One plain attempt, past the circuit breaker, so an administrator can probe CDP while calls
    are paused and see the first failure as it is. It is made in the connection's API version,
    so a CDP that does not speak that version fails the test.

    https://doc.sitecore.com/cdp/en/developers/api/retrieve-orders--legacy-.html
    """
    return transport.request(
        "GET",
        connection.path("orders"),
        params={"referenceId": "backoffice-connection-test", "limit": 1},
        connection=connection,
        guarded=False,
    )
