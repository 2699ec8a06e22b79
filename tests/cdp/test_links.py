"""CDP refs: a ref is one path segment, so no URL, box or CDP answer steers a call elsewhere.

urllib3 removes dot segments from a URL after the client has percent-encoded the ref, so a ref
of "." or ".." would turn `/v2/orders/..` into `/v2/`. Each test checks the sandbox's request
log: nothing reached CDP at all, not even a path that names no resource.
"""

import json

import pytest

from cdp import client, links, transport
from cdp.connection import current_connection
from cdp.errors import CDPBadResponse, CDPNotFound
from cdp_sandbox.server import Fault
from consumers import bulk, services
from consumers.forms import parse_ref
from consumers.models import OrderConsumer
from tests.conftest import CONSUMER_REF, GUEST_REF, ORDER_REF

pytestmark = pytest.mark.django_db

BAD_REFS = ["", ".", "..", "a/b", "/", "../x", "a\\b", "a\x00b", "line\nbreak"]
CALLS_WITH_A_REF_IN_THE_PATH = {
    "get_order_consumer": client.get_order_consumer,
    "update_order_consumer": lambda ref: client.update_order_consumer(ref, {"firstName": "X"}),
    "list_order_consumer_refs": client.list_order_consumer_refs,
    "list_order_item_refs": client.list_order_item_refs,
    "get_order": client.get_order,
    "get_guest": client.get_guest,
}


def api_requests(sandbox) -> list[tuple[str, str]]:
    return [(request.method, request.path) for request in sandbox.requests]


# --- the one definition ----------------------------------------------------------------------


@pytest.mark.parametrize("ref", [CONSUMER_REF, "abc", "C439E8B9-0000", "a.b", "...", "%2e%2e"])
def test_a_ref_is_any_one_path_segment_but_a_dot_segment(ref):
    assert links.is_valid_ref(ref)


@pytest.mark.parametrize("ref", [*BAD_REFS, None, 12])
def test_a_ref_is_never_empty_a_dot_segment_or_more_than_one_segment(ref):
    assert not links.is_valid_ref(ref)


# --- the client: every call ------------------------------------------------------------------


@pytest.mark.parametrize(
    "call", CALLS_WITH_A_REF_IN_THE_PATH.values(), ids=list(CALLS_WITH_A_REF_IN_THE_PATH)
)
@pytest.mark.parametrize("ref", BAD_REFS)
def test_it_refuses_a_ref_that_is_not_one_path_segment_before_sending_anything(sandbox, call, ref):
    with pytest.raises(CDPNotFound, match="is not a CDP ref") as caught:
        call(ref)

    assert caught.value.attempts == 0
    assert not caught.value.retryable
    assert api_requests(sandbox) == []
    assert transport.breaker_status(current_connection()).consecutive_failures == 0


@pytest.mark.parametrize("ref", BAD_REFS)
def test_it_builds_no_link_to_a_ref_that_is_not_one_path_segment(sandbox, ref):
    with pytest.raises(CDPNotFound, match="is not a CDP ref"):
        links.link(sandbox.base_url, "guests", ref)


@pytest.mark.parametrize(
    "href",
    [
        "https://api-engage-eu.sitecorecloud.io/v2/guests/..",
        "https://api-engage-eu.sitecorecloud.io/v2/guests/.",
        "https://api-engage-eu.sitecorecloud.io/v2/guests/%2e%2e",
        "https://api-engage-eu.sitecorecloud.io/v2/guests/%2E",
        "https://api-engage-eu.sitecorecloud.io/v2/guests/a%2Fb",
        "https://api-engage-eu.sitecorecloud.io/v2/guests/%00",
        "..",
        "/",
    ],
)
def test_it_hands_out_no_ref_from_a_link_whose_last_segment_is_not_a_ref(href):
    assert links.ref_from_link({"href": href}) == ""
    assert links.parse_link(href) is None


def test_it_reads_a_percent_encoded_ref_from_a_link_as_the_ref_itself():
    href = "https://api-engage-eu.sitecorecloud.io/v2/guests/a%2Cb"

    assert links.ref_from_link({"href": href}) == "a,b"
    assert links.parse_link(href) == ("guests", "a,b")


# --- the URLs: a 404 before any call ---------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/consumers/../",
        "/consumers/./",
        "/consumers/%2e%2e/",
        "/consumers/%2E/",
        "/consumers/%2e%2e/edit/",
        "/consumers/../conflicts/1/",
        "/orders/./",
        "/orders/../",
        "/orders/%2e%2e/",
        "/orders/%2e/",
    ],
)
def test_a_dot_ref_in_a_page_url_is_a_404_without_calling_cdp(agent_client, sandbox, url):
    response = agent_client.get(url)

    assert response.status_code == 404
    assert api_requests(sandbox) == []


@pytest.mark.parametrize(
    "url",
    ["/consumers/../refresh/", "/consumers/%2e%2e/edit/", "/orders/%2e/refresh/"],
)
def test_a_dot_ref_in_a_form_url_is_a_404_without_calling_cdp(agent_client, sandbox, url):
    response = agent_client.post(url, {"first_name": "X", "last_name": "Y"})

    assert response.status_code == 404
    assert api_requests(sandbox) == []


# --- the boxes: a form error before any call -------------------------------------------------


@pytest.mark.parametrize("query", [".", "..", " .. ", "...", "-"])
def test_the_start_pages_order_box_refuses_dots_without_calling_cdp(agent_client, sandbox, query):
    response = agent_client.get("/", {"kind": "order", "q": query})

    assert response.status_code == 200
    assert "is not an order ref or a booking reference" in response.content.decode()
    assert api_requests(sandbox) == []


@pytest.mark.parametrize("query", [".", "..", " .. ", "...", "-"])
def test_the_search_box_refuses_dots_without_calling_cdp(agent_client, sandbox, query):
    response = agent_client.get("/find/", {"q": query})

    assert response.status_code == 200
    assert "holds no letter or digit" in response.content.decode()
    assert api_requests(sandbox) == []


@pytest.mark.parametrize("query", [".", ".."])
def test_the_start_pages_consumer_box_refuses_dots_without_calling_cdp(
    agent_client, sandbox, query
):
    response = agent_client.get("/", {"kind": "consumer", "q": query})

    assert response.status_code == 200
    assert "is not a CDP ref" in response.content.decode()
    assert api_requests(sandbox) == []


def test_the_order_lookup_does_not_ask_for_an_order_at_a_dot_ref(sandbox):
    assert services.order_find(reference="..") == []

    assert api_requests(sandbox) == [("GET", "/v2/orders")]  # the booking reference search


@pytest.mark.parametrize(
    "text",
    ["..", "https://x/v2/orderConsumers/..", "https://x/v2/orderConsumers/%2e%2e"],
)
def test_a_bulk_refresh_takes_no_dot_ref(text):
    with pytest.raises(Exception, match="1 entry is not an order consumer ref"):
        bulk.refs_parse(text)
    assert bulk.refs_from_csv(f"{CONSUMER_REF}\n{text}\n".encode()) == [CONSUMER_REF]


@pytest.mark.parametrize("text", ["https://x/v2/guests/..", "https://x/v2/guests/%2e%2e"])
def test_a_guest_link_to_a_dot_ref_is_a_form_error(text):
    with pytest.raises(Exception, match="is not a CDP link ending in /v2/guests/<ref>"):
        parse_ref(text, "guests")


# --- crafted CDP answers ---------------------------------------------------------------------


def crafted_links(sandbox, collection: str) -> list[dict]:
    return [
        {"href": f"{sandbox.base_url}/v2/{collection}/.."},
        {"href": f"{sandbox.base_url}/v2/{collection}/%2e%2e"},
        {"href": f"{sandbox.base_url}/v2/{collection}/."},
    ]


def test_an_order_listing_a_consumer_at_a_dot_ref_calls_no_other_cdp_path(agent_client, sandbox):
    page = {"offset": 0, "limit": 100, "items": crafted_links(sandbox, "orderConsumers")}
    sandbox.inject(Fault(path=f"/v2/orders/{ORDER_REF}/consumers", body=json.dumps(page)))

    response = agent_client.get(f"/orders/{ORDER_REF}/")

    assert response.status_code == 200
    assert api_requests(sandbox) == [
        ("GET", f"/v2/orders/{ORDER_REF}"),
        ("GET", f"/v2/orders/{ORDER_REF}/consumers"),
    ]
    assert not OrderConsumer.objects.exists()


def test_guests_found_at_a_dot_ref_are_not_asked_for(agent_client, sandbox):
    page = {"offset": 0, "limit": 20, "items": crafted_links(sandbox, "guests")}
    sandbox.inject(Fault(path="/v2/guests", body=json.dumps(page), times=None))

    response = agent_client.get("/find/", {"q": "Nobody"})

    assert response.status_code == 200
    assert {path for _, path in api_requests(sandbox)} == {"/v2/guests"}


def test_a_guest_whose_orders_include_a_dot_ref_leads_nowhere(sandbox):
    page = {"offset": 0, "limit": 100, "items": crafted_links(sandbox, "orders")}
    sandbox.inject(Fault(path="/v2/orders", body=json.dumps(page)))

    found = services.consumer_find(query=GUEST_REF)

    assert found.order_refs is None
    assert found.url == ""
    assert "CDP has no consumer, order or guest" in found.message


@pytest.mark.parametrize("link", ["guest", "order"])
def test_a_consumer_whose_link_ends_in_dot_dot_is_a_bad_response(sandbox, link):
    record = sandbox.consumer(CONSUMER_REF)
    record[link] = {"href": f"{sandbox.base_url}/v2/{link}s/.."}
    sandbox.inject(Fault(path=f"/v2/orderConsumers/{CONSUMER_REF}", body=json.dumps(record)))

    with pytest.raises(CDPBadResponse, match=f"CDP sent a {link} that is not a link"):
        services.consumer_fetch(ref=CONSUMER_REF)

    assert api_requests(sandbox) == [("GET", f"/v2/orderConsumers/{CONSUMER_REF}")]
