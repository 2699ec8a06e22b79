"""The CDP client over real HTTP: auth, headers, paging, full-replace updates and every failure."""

import json
import socket

import pytest

from cdp import client, links
from cdp.connection import current_connection
from cdp.errors import CDPAuthError, CDPBadResponse, CDPNotFound, CDPRejected, CDPUnavailable
from cdp_sandbox import seed
from cdp_sandbox.server import Fault
from tests.conftest import CONSUMER_REF, ORDER_REF, cdp_path

# The client looks up the active CDP connection in the database before each call.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("api_version")]

CONSUMER_PATH = cdp_path("orderConsumers", CONSUMER_REF)


def test_it_retrieves_an_order_consumer(sandbox):
    consumer = client.get_order_consumer(CONSUMER_REF)

    assert consumer["ref"] == CONSUMER_REF
    assert consumer["firstName"] == "Liam"


def test_it_sends_basic_auth_and_json_headers(sandbox):
    client.get_order_consumer(CONSUMER_REF)

    [request] = sandbox.requests_to("GET", CONSUMER_PATH)
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"] == "application/json"
    assert request.status == 200  # the sandbox accepted the Basic credentials


def test_it_lists_all_of_an_orders_consumers_across_pages(sandbox):
    sandbox.config.max_page_limit = 2

    refs = client.list_order_consumer_refs(ORDER_REF)

    assert len(refs) == 3
    assert CONSUMER_REF in refs
    pages = sandbox.requests_to("GET", cdp_path("orders", ORDER_REF, "consumers"))
    assert [page.query["offset"] for page in pages] == ["0", "2"]


def test_a_guest_search_reads_one_page_and_says_whether_cdp_may_have_more(sandbox):
    assert client.find_guest_refs({"lastName": "Byrne"}, limit=2) == (
        [seed.make_ref("guest", 0), seed.make_ref("guest", 1)],
        True,
    )
    assert len(sandbox.requests_to("GET", cdp_path("guests"))) == 1
    refs, more = client.find_guest_refs({"lastName": "Byrne"}, limit=20)
    assert (len(refs), more) == (3, False)


def test_it_updates_an_order_consumer_with_the_whole_record(sandbox):
    record = client.get_order_consumer(CONSUMER_REF)
    record["lastName"] = "Beirne"

    reply = client.update_order_consumer(CONSUMER_REF, record)

    assert reply["lastName"] == "Beirne"
    assert reply["emails"] == record["emails"]


@pytest.mark.parametrize("status", [200, 201])
def test_it_accepts_either_success_status_for_an_update(sandbox, status):
    sandbox.config.update_status = status
    record = client.get_order_consumer(CONSUMER_REF)

    assert client.update_order_consumer(CONSUMER_REF, record)["ref"] == CONSUMER_REF


def test_it_retrieves_an_order_a_guest_and_an_orders_items(sandbox):
    consumer = client.get_order_consumer(CONSUMER_REF)

    order = client.get_order(ORDER_REF)
    guest = client.get_guest(links.ref_from_link(consumer["guest"]))
    items = client.list_order_item_refs(ORDER_REF)

    assert order["referenceId"] == "B94TXY-1"
    assert guest["lastName"] == "Byrne"
    assert sorted(items) == sorted(
        links.ref_from_link(link) for link in consumer["orderItems"]["items"]
    )


def test_it_finds_orders_by_booking_reference(sandbox):
    assert client.find_order_refs("B94TXY-1") == [ORDER_REF]
    assert client.find_order_refs("NOPE-1") == []


def test_it_builds_links_under_the_configured_base_url(sandbox):
    base_url = current_connection().base_url
    assert links.link(base_url, "guests", "abc") == {"href": f"{sandbox.base_url}/v2/guests/abc"}
    assert (
        links.ref_from_link({"href": "https://api-engage-eu.sitecorecloud.io/v2/guests/abc"})
        == "abc"
    )
    assert links.ref_from_link(None) == ""


def test_a_wrong_token_raises_an_auth_error_with_cdps_message(sandbox, settings):
    settings.CDP_API_TOKEN = "not-the-token"

    with pytest.raises(CDPAuthError) as caught:
        client.get_order_consumer(CONSUMER_REF)

    assert caught.value.status == 401
    assert "Authentication credentials are required" in str(caught.value)
    assert caught.value.more_info_url == "https://support.sitecore.com"


def test_an_unknown_ref_raises_not_found(sandbox):
    with pytest.raises(CDPNotFound) as caught:
        client.get_order_consumer("00000000-0000-0000-0000-000000000000")

    assert caught.value.status == 404
    assert "No order consumer found" in str(caught.value)


def test_a_validation_error_raises_rejected_with_cdps_message(sandbox):
    record = client.get_order_consumer(CONSUMER_REF)
    del record["firstName"]

    with pytest.raises(CDPRejected) as caught:
        client.update_order_consumer(CONSUMER_REF, record)

    assert caught.value.status == 400
    assert "firstName: may not be null." in str(caught.value)
    assert caught.value.developer_message == "firstName: may not be null."


def test_a_slow_answer_raises_unavailable_after_the_read_timeout(sandbox, settings):
    settings.CDP_TIMEOUT = 0.2
    sandbox.inject(Fault(path=CONSUMER_PATH, latency=1.0, times=None))

    with pytest.raises(CDPUnavailable, match=r"did not answer within 0\.2 seconds") as caught:
        client.get_order_consumer(CONSUMER_REF)

    assert caught.value.attempts == 3
    assert "Gave up after 3 attempts." in str(caught.value)


def test_a_refused_connection_raises_unavailable(settings):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    settings.CDP_BASE_URL = f"http://127.0.0.1:{port}"

    with pytest.raises(CDPUnavailable, match="connection refused") as caught:
        client.get_order_consumer(CONSUMER_REF)

    assert caught.value.attempts == 3


def test_a_reset_connection_raises_unavailable(sandbox):
    sandbox.inject(Fault(path=CONSUMER_PATH, reset=True, times=None))

    with pytest.raises(CDPUnavailable, match="Could not reach CDP"):
        client.get_order_consumer(CONSUMER_REF)

    assert len(sandbox.requests_to("GET", CONSUMER_PATH)) == 3


@pytest.mark.parametrize("fault", [{"malformed": True}, {"truncated": True}])
def test_a_body_that_is_not_json_raises_a_readable_error(sandbox, fault):
    sandbox.inject(Fault(path=CONSUMER_PATH, times=None, **fault))

    with pytest.raises((CDPBadResponse, CDPUnavailable)) as caught:
        client.get_order_consumer(CONSUMER_REF)

    assert "CDP" in str(caught.value)


@pytest.mark.parametrize(("status", "attempts"), [(429, 3), (500, 1), (502, 3), (503, 3), (504, 3)])
def test_throttling_and_server_errors_raise_unavailable(sandbox, status, attempts):
    sandbox.inject(Fault(path=CONSUMER_PATH, status=status, times=None))

    with pytest.raises(CDPUnavailable) as caught:
        client.get_order_consumer(CONSUMER_REF)

    assert caught.value.status == status
    assert f"HTTP {status}" in str(caught.value)
    # A 500 is CDP's own bug and would come back the same; the others may pass.
    assert caught.value.attempts == attempts
    assert len(sandbox.requests_to("GET", CONSUMER_PATH)) == attempts


def test_an_unexpected_status_raises_a_readable_error(sandbox):
    sandbox.inject(Fault(path=CONSUMER_PATH, status=302))

    with pytest.raises(CDPBadResponse, match="unexpected HTTP 302"):
        client.get_order_consumer(CONSUMER_REF)


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (CDPUnavailable("down"), True),
        (CDPBadResponse("garbled"), True),
        (CDPRejected("invalid"), False),
        (CDPAuthError("wrong token"), False),
        (CDPNotFound("no such ref"), False),
    ],
)
def test_errors_say_whether_trying_again_later_may_work(error, retryable):
    assert error.retryable is retryable


def test_nothing_but_the_transport_imports_requests():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(path.relative_to(root))
        for folder in ("backoffice", "consumers", "audit", "cdp", "cdp_sandbox")
        for path in (root / folder).rglob("*.py")
        if "import requests" in path.read_text() and path != root / "cdp" / "transport.py"
    ]
    assert offenders == []


# --- what differs between the versions ---------------------------------------------------------


def test_it_calls_the_paths_of_the_api_version_it_speaks(sandbox, api_version):
    client.get_order_consumer(CONSUMER_REF)

    [request] = sandbox.requests_to("GET", CONSUMER_PATH)
    assert request.path == f"/{api_version}/orderConsumers/{CONSUMER_REF}"


def test_it_follows_next_links_in_v2_1_and_offsets_in_v2(sandbox, api_version):
    sandbox.config.max_page_limit = 1

    refs = client.list_order_consumer_refs(ORDER_REF)

    assert len(refs) == 3
    pages = sandbox.requests_to("GET", cdp_path("orders", ORDER_REF, "consumers"))
    # v2.1 by its `next` links, v2 by offset; both stop at the page the `last` link names.
    assert [page.query["offset"] for page in pages] == ["0", "1", "2"]
    assert ("next" in sandbox.handle("GET", pages[0].path, pages[0].query, None)[1]) is (
        api_version == "v2.1"
    )


def test_a_next_link_to_another_host_is_not_followed(sandbox):
    page = {
        "href": "x",
        "offset": 0,
        "limit": 1,
        "items": [{"href": f"{sandbox.base_url}/v2.1/orderConsumers/{CONSUMER_REF}"}],
        "next": {"href": f"https://evil.example/v2.1/orders/{ORDER_REF}/consumers?offset=1"},
    }
    sandbox.inject(Fault(path=cdp_path("orders", ORDER_REF, "consumers"), body=json.dumps(page)))

    refs = client.list_order_consumer_refs(ORDER_REF)

    # Paged by offset instead, on CDP's own host.
    assert refs[0] == CONSUMER_REF
    assert len(refs) == 3


def test_it_reads_refs_from_items_ref_and_falls_back_to_the_href():
    assert links.ref_of_item({"href": "https://x/v2.1/orders/abc", "ref": "def"}) == "def"
    assert links.ref_of_item({"href": "https://x/v2/orders/abc"}) == "abc"
    assert links.ref_of_item({"href": "https://x/v2/orders/abc", "ref": ".."}) == "abc"
    assert links.ref_of_item("abc") == ""


def test_v2_1_links_are_built_in_v2_1_and_v2_links_still_read(sandbox, settings):
    settings.CDP_API_VERSION = "v2.1"
    connection = current_connection()

    assert connection.link("guests", "abc") == {"href": f"{sandbox.base_url}/v2.1/guests/abc"}
    assert links.parse_link(f"{sandbox.base_url}/v2/guests/abc") == ("guests", "abc")
    assert links.parse_link(f"{sandbox.base_url}/v2.1/guests/abc") == ("guests", "abc")


def test_a_404_shows_cdps_generic_and_specific_text(sandbox):
    with pytest.raises(CDPNotFound) as caught:
        client.get_order_consumer("00000000-0000-0000-0000-000000000000")

    assert str(caught.value) == (
        "Not found in CDP (HTTP 404 Not Found): The specified resource does not exist. "
        "No order consumer found with ref 00000000-0000-0000-0000-000000000000."
    )
    assert caught.value.developer_message.startswith("No order consumer found")


def test_an_orders_consumers_come_expanded_in_v2_1_only(sandbox, api_version):
    refs, records = client.list_order_consumers(ORDER_REF)

    assert len(refs) == 3
    if api_version == "v2.1":
        assert set(records) == set(refs)
        assert records[CONSUMER_REF]["firstName"] == "Liam"
    else:
        assert records == {}


def test_a_guests_orders_are_asked_for_sorted_in_v2_1(sandbox, api_version):
    assert client.find_order_refs_of_guest(seed.make_ref("guest", 0)) == [ORDER_REF]

    [request] = sandbox.requests_to("GET", cdp_path("orders"))
    assert request.query.get("sort") == ("orderedAt" if api_version == "v2.1" else None)


def test_a_limit_above_the_maximum_is_capped_so_paging_still_ends(sandbox):
    sandbox.config.max_page_limit = 2  # CDP uses less than the client asks for

    assert len(client.list_order_consumer_refs(ORDER_REF)) == 3
