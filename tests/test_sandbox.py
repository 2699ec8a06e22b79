"""The CDP sandbox answers like the documented v2 API, so the app is tested against real shapes."""

import base64
import http.client
import json
from urllib.parse import urlsplit

import pytest

from tests.conftest import CONSUMER_REF, ORDER_REF


def call(
    sandbox,
    method,
    path,
    body=None,
    *,
    auth=("sandbox-client-key", "sandbox-api-token"),
    content_type="application/json",
):
    """Make one raw HTTP call to the sandbox and return (status, headers, parsed JSON body)."""
    address = urlsplit(sandbox.base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=5)
    headers = {"Accept": "application/json"}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    if body is not None:
        headers["Content-Type"] = content_type
        body = json.dumps(body) if not isinstance(body, str) else body
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), json.loads(data) if data else None


def test_it_returns_a_consumer_with_absolute_links_under_its_own_base_url(sandbox):
    status, _, consumer = call(sandbox, "GET", f"/v2/orderConsumers/{CONSUMER_REF}")

    assert status == 200
    assert consumer["href"] == f"{sandbox.base_url}/v2/orderConsumers/{CONSUMER_REF}"
    assert consumer["ref"] == CONSUMER_REF
    assert consumer["order"] == {"href": f"{sandbox.base_url}/v2/orders/{ORDER_REF}"}
    assert consumer["guest"]["href"].startswith(f"{sandbox.base_url}/v2/guests/")
    assert all(
        item["href"].startswith(f"{sandbox.base_url}/v2/orderItems/")
        for item in consumer["orderItems"]["items"]
    )
    assert consumer["modifiedAt"].endswith("Z")
    assert "T" in consumer["modifiedAt"]


def test_its_seed_consumers_carry_every_documented_attribute(sandbox):
    documented = {
        "title",
        "firstName",
        "lastName",
        "gender",
        "dateOfBirth",
        "emails",
        "phoneNumbers",
        "nationality",
        "country",
        "passportNumber",
        "passportExpiry",
        "identifiers",
        "guest",
        "orderItems",
        "href",
        "ref",
        "createdAt",
        "modifiedAt",
        "order",
    }
    for ref in sandbox.data.consumers:
        assert documented <= set(sandbox.consumer(ref)), ref


def test_it_lists_an_orders_consumers_as_a_collection_of_links(sandbox):
    status, _, page = call(sandbox, "GET", f"/v2/orders/{ORDER_REF}/consumers")

    assert status == 200
    assert page["offset"] == 0
    assert page["limit"] == 10
    assert page["href"] == f"{sandbox.base_url}/v2/orders/{ORDER_REF}/consumers?offset=0&limit=10"
    assert len(page["items"]) == 3
    assert set(page["items"][0]) == {"href"}


def test_it_pages_a_collection_by_offset_and_limit(sandbox):
    _, _, first = call(sandbox, "GET", f"/v2/orders/{ORDER_REF}/consumers?offset=0&limit=2")
    _, _, second = call(sandbox, "GET", f"/v2/orders/{ORDER_REF}/consumers?offset=2&limit=2")

    assert len(first["items"]) == 2
    assert len(second["items"]) == 1
    assert first["items"][1] != second["items"][0]


def test_it_refuses_a_limit_above_the_documented_maximum(sandbox):
    status, _, body = call(sandbox, "GET", f"/v2/orders/{ORDER_REF}/consumers?limit=101")

    assert status == 400
    assert "limit" in body["message"]


@pytest.mark.parametrize(
    "auth", [None, ("sandbox-client-key", "wrong-token"), ("someone-else", "sandbox-api-token")]
)
def test_it_answers_the_documented_401_body_without_the_right_credentials(sandbox, auth):
    status, _, body = call(sandbox, "GET", f"/v2/orderConsumers/{CONSUMER_REF}", auth=auth)

    assert status == 401
    assert body == {
        "status": "UNAUTHORIZED",
        "code": 401,
        "message": (
            "Authentication credentials are required to access the resource. "
            "All requests must be authenticated."
        ),
        "moreInfoUrl": "https://support.sitecore.com",
    }


def test_it_answers_404_for_an_unknown_ref(sandbox):
    status, _, body = call(
        sandbox, "GET", "/v2/orderConsumers/00000000-0000-0000-0000-000000000000"
    )

    assert status == 404
    assert body["code"] == 404
    assert set(body) == {"status", "code", "message", "developerMessage", "moreInfoUrl"}


@pytest.mark.parametrize("missing", ["firstName", "lastName"])
def test_it_refuses_an_update_without_a_first_or_last_name_with_the_documented_400_body(
    sandbox, missing
):
    record = sandbox.consumer(CONSUMER_REF)
    del record[missing]

    status, _, body = call(sandbox, "POST", f"/v2/orderConsumers/{CONSUMER_REF}", record)

    assert status == 400
    assert body == {
        "status": 400,
        "code": 400,
        "message": f"{missing}: may not be null.",
        "developerMessage": f"{missing}: may not be null.",
        "moreInfoUrl": "https://support.sitecore.com",
    }
    assert sandbox.consumer(CONSUMER_REF)[missing]


def test_an_update_replaces_the_whole_record_so_a_left_out_attribute_is_gone(sandbox):
    before = sandbox.consumer(CONSUMER_REF)
    record = {
        key: value for key, value in before.items() if key not in ("emails", "passportNumber")
    }
    record["lastName"] = "Beirne"

    status, _, reply = call(sandbox, "POST", f"/v2/orderConsumers/{CONSUMER_REF}", record)

    assert status == 201
    assert reply["lastName"] == "Beirne"
    assert "emails" not in reply
    assert "passportNumber" not in sandbox.consumer(CONSUMER_REF)
    assert reply["phoneNumbers"] == before["phoneNumbers"]


def test_an_update_advances_modified_at_and_keeps_what_cdp_owns(sandbox):
    before = sandbox.consumer(CONSUMER_REF)
    record = {
        **before,
        "ref": "forged",
        "createdAt": "1999-01-01T00:00:00.000Z",
        "modifiedAt": "2099-01-01T00:00:00.000Z",
    }

    _, _, first = call(sandbox, "POST", f"/v2/orderConsumers/{CONSUMER_REF}", record)
    _, _, second = call(
        sandbox,
        "POST",
        f"/v2/orderConsumers/{CONSUMER_REF}",
        {**record, "modifiedAt": first["modifiedAt"]},
    )

    assert first["ref"] == CONSUMER_REF
    assert first["createdAt"] == before["createdAt"]
    assert before["modifiedAt"] < first["modifiedAt"] < second["modifiedAt"]
    assert first["order"] == before["order"]


def test_an_update_must_be_sent_as_json(sandbox):
    status, _, body = call(
        sandbox,
        "POST",
        f"/v2/orderConsumers/{CONSUMER_REF}",
        "firstName=A",
        content_type="application/x-www-form-urlencoded",
    )

    assert status == 415
    assert body["code"] == 415


def test_an_update_refuses_a_link_to_a_guest_that_does_not_exist(sandbox):
    record = sandbox.consumer(CONSUMER_REF)
    record["guest"] = {"href": f"{sandbox.base_url}/v2/guests/00000000-0000-0000-0000-000000000000"}

    status, _, body = call(sandbox, "POST", f"/v2/orderConsumers/{CONSUMER_REF}", record)

    assert status == 400
    assert body["message"].startswith("guest:")


def test_it_finds_orders_by_reference_id_and_requires_a_query(sandbox):
    _, _, found = call(sandbox, "GET", "/v2/orders?referenceId=B94TXY-1")
    status, _, _ = call(sandbox, "GET", "/v2/orders")

    assert [item["href"].rsplit("/", 1)[1] for item in found["items"]] == [ORDER_REF]
    assert status == 400


def test_it_records_requests_without_their_credentials(sandbox):
    call(sandbox, "GET", f"/v2/orderConsumers/{CONSUMER_REF}")

    [recorded] = sandbox.requests_to("GET", f"/v2/orderConsumers/{CONSUMER_REF}")
    assert recorded.status == 200
    assert "Authorization" not in recorded.headers


def test_an_injected_fault_applies_to_the_next_matching_requests_only(sandbox):
    call(
        sandbox,
        "POST",
        "/_sandbox/faults",
        {"path": "/v2/orderConsumers/.*", "status": 503, "retry_after": 2, "times": 1},
    )

    status, headers, body = call(sandbox, "GET", f"/v2/orderConsumers/{CONSUMER_REF}")
    again, _, _ = call(sandbox, "GET", f"/v2/orderConsumers/{CONSUMER_REF}")

    assert (status, headers["Retry-After"], body["code"]) == (503, "2", 503)
    assert again == 200


def test_reset_restores_the_seed_data(sandbox):
    sandbox.change_consumer(CONSUMER_REF, lastName="Changed")

    call(sandbox, "POST", "/_sandbox/reset", {})

    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Byrne"
