"""The CDP sandbox answers like the documented v2 API, so the app is tested against real shapes."""

import base64
import http.client
import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from cdp_sandbox import seed
from cdp_sandbox.__main__ import main as sandbox_main
from cdp_sandbox.server import Fault
from tests.conftest import CONSUMER_REF, ORDER_REF

CONSUMER_PATH = f"/v2/orderConsumers/{CONSUMER_REF}"


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


def test_it_caps_a_limit_above_the_documented_maximum_rather_than_refusing_it(sandbox):
    status, _, body = call(sandbox, "GET", f"/v2/orders/{ORDER_REF}/consumers?limit=101")

    assert status == 200
    assert body["limit"] == 100


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


def test_it_searches_guests_by_whole_name_or_email_ignoring_case_and_requires_a_query(sandbox):
    def found(query):
        _, _, body = call(sandbox, "GET", f"/v2/guests?{query}")
        return len(body["items"])

    assert found("lastName=BYRNE") == 3
    assert found("firstName=aoife&lastName=Byrne") == 1
    assert found("email=Aoife.Byrne@example.com") == 1
    assert found("lastName=Byr") == 0  # whole values, not prefixes
    assert call(sandbox, "GET", "/v2/guests")[0] == 400


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


def test_a_fault_can_change_a_record_behind_the_apps_back_before_answering(sandbox):
    before = sandbox.consumer(CONSUMER_REF)
    sandbox.inject(Fault(method="GET", path=CONSUMER_PATH, change={"lastName": "Byrne-Walsh"}))

    status, _, first = call(sandbox, "GET", CONSUMER_PATH)
    _, _, again = call(sandbox, "GET", CONSUMER_PATH)

    assert (status, first["lastName"]) == (200, "Byrne-Walsh")
    assert first["modifiedAt"] > before["modifiedAt"]
    assert again["modifiedAt"] == first["modifiedAt"]  # once only: times=1


def test_a_change_combines_with_an_error_answer(sandbox):
    record = sandbox.consumer(CONSUMER_REF)
    sandbox.inject(
        Fault(method="POST", path=CONSUMER_PATH, status=503, change={"firstName": "William"})
    )

    status, _, _ = call(sandbox, "POST", CONSUMER_PATH, {**record, "lastName": "Beirne"})

    assert status == 503
    after = sandbox.consumer(CONSUMER_REF)
    assert (after["firstName"], after["lastName"]) == ("William", "Byrne")


def test_a_change_applies_only_to_the_consumer_a_request_is_for(sandbox):
    before = sandbox.consumer(CONSUMER_REF)
    sandbox.inject(Fault(path=".*", change={"lastName": "Elsewhere"}, times=None))

    status, _, _ = call(sandbox, "GET", f"/v2/orders/{ORDER_REF}")

    assert status == 200
    assert sandbox.consumer(CONSUMER_REF) == before


def test_the_control_endpoint_changes_a_consumer_as_another_user_would(sandbox):
    before = sandbox.consumer(CONSUMER_REF)
    guest = seed.make_ref("guest", 1)

    status, _, changed = call(
        sandbox,
        "POST",
        f"/_sandbox/consumers/{CONSUMER_REF}",
        {"firstName": "William", "title": None, "guest": {"href": f"/v2/guests/{guest}"}},
        auth=None,
    )
    _, _, shown = call(sandbox, "GET", f"/_sandbox/consumers/{CONSUMER_REF}", auth=None)

    assert status == 200
    assert changed == shown == sandbox.consumer(CONSUMER_REF)
    assert changed["firstName"] == "William"
    assert "title" not in changed  # null removes an attribute, as a v2 update leaving it out
    assert changed["guest"] == {"href": f"{sandbox.base_url}/v2/guests/{guest}"}
    assert changed["modifiedAt"] > before["modifiedAt"]


@pytest.mark.parametrize(
    ("method", "ref", "body", "expected"),
    [
        ("GET", "00000000-0000-0000-0000-000000000000", None, 404),
        ("POST", CONSUMER_REF, {"ref": "forged"}, 400),
        ("POST", CONSUMER_REF, ["firstName"], 400),
        ("POST", CONSUMER_REF, {"guest": {"no": "href"}}, 400),
    ],
)
def test_the_control_endpoint_refuses_what_it_cannot_change(sandbox, method, ref, body, expected):
    before = sandbox.consumer(CONSUMER_REF)

    status, _, answer = call(sandbox, method, f"/_sandbox/consumers/{ref}", body, auth=None)

    assert status == expected
    assert answer["message"]
    assert sandbox.consumer(CONSUMER_REF) == before


def test_a_fault_posted_to_the_control_endpoint_is_checked(sandbox):
    status, _, body = call(sandbox, "POST", "/_sandbox/faults", {"stats": 503}, auth=None)
    bad, _, _ = call(sandbox, "POST", "/_sandbox/faults", {"status": "often"}, auth=None)

    assert status == 400
    assert "unknown fault field stats" in body["message"]
    assert bad == 400
    assert sandbox.faults.items == []


def test_a_fault_posted_to_the_control_endpoint_can_carry_a_change(sandbox):
    status, _, fault = call(
        sandbox,
        "POST",
        "/_sandbox/faults",
        {"method": "GET", "path": "/v2/orderConsumers/.*", "change": {"lastName": "Walsh"}},
        auth=None,
    )

    _, _, consumer = call(sandbox, "GET", CONSUMER_PATH)

    assert (status, fault["change"]) == (201, {"lastName": "Walsh"})
    assert consumer["lastName"] == "Walsh"


def test_a_fault_can_answer_any_body_as_it_is(sandbox):
    status, _, fault = call(
        sandbox,
        "POST",
        "/_sandbox/faults",
        {"path": CONSUMER_PATH, "status": 409, "body": '{"items": 3}'},
        auth=None,
    )

    answer, _, body = call(sandbox, "GET", CONSUMER_PATH)

    assert (status, fault["body"]) == (201, '{"items": 3}')
    assert (answer, body) == (409, {"items": 3})


def test_a_faults_body_may_be_bytes_that_are_not_even_text(sandbox):
    sandbox.inject(Fault(path=CONSUMER_PATH, body=b"\xff\xfe{"))
    _, _, listed = call(sandbox, "GET", "/_sandbox/faults", auth=None)
    address = urlsplit(sandbox.base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=5)

    connection.request("GET", CONSUMER_PATH)
    response = connection.getresponse()

    assert (response.status, response.read()) == (200, b"\xff\xfe{")
    assert listed["faults"][0]["body"] == "\ufffd\ufffd{"
    connection.close()


def test_retry_after_can_be_an_http_date(sandbox):
    date = "Fri, 27 Nov 2026 12:00:30 GMT"
    sandbox.inject(Fault(path=CONSUMER_PATH, status=429, retry_after=date))

    status, headers, _ = call(sandbox, "GET", CONSUMER_PATH)

    assert (status, headers["Retry-After"]) == (429, date)


def test_a_fault_for_a_fraction_of_requests_repeats_from_run_to_run(sandbox):
    def statuses():
        sandbox.inject(Fault(path=CONSUMER_PATH, status=503, fraction=0.5, times=None))
        return [call(sandbox, "GET", CONSUMER_PATH)[0] for _ in range(20)]

    first = statuses()
    sandbox.reset()
    again = statuses()

    assert first == again
    assert {200, 503} == set(first)


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("{nope", "not valid JSON"),
        ('{"stats": 503}', "unknown fault field stats"),
        ('{"path": "["}', "path: not a valid regular expression"),
        ('{"fraction": 2}', "fraction: must be more than 0 and at most 1"),
        ("[503]", "a fault must be a JSON object"),
    ],
)
def test_the_command_line_refuses_a_fault_it_cannot_read(capsys, value, complaint):
    with pytest.raises(SystemExit) as exited:
        sandbox_main(["--fault", value])

    assert exited.value.code == 2
    assert f"argument --fault: {complaint}" in capsys.readouterr().err


def test_the_command_line_injects_faults_from_the_start():
    fault = {"path": "/v2/orderConsumers/.*", "status": 503, "retry_after": 3, "times": None}
    process = subprocess.Popen(
        [sys.executable, "-m", "cdp_sandbox", "--port", "0", "--fault", json.dumps(fault)],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        announced = re.search(r"listening on (\S+)", process.stdout.readline())
        assert announced, "the sandbox did not say where it listens"
        url = announced[1]
        running = type("Running", (), {"base_url": url})()

        first, headers, _ = call(running, "GET", CONSUMER_PATH)
        second, _, _ = call(running, "GET", CONSUMER_PATH)
        _, _, listed = call(running, "GET", "/_sandbox/faults", auth=None)
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()

    assert (first, second, headers["Retry-After"]) == (503, 503, "3")
    assert listed["faults"] == [{**Fault().__dict__, **fault}]


# --- v2.1 beside v2 --------------------------------------------------------------------------

V21_CONSUMER = f"/v2.1/orderConsumers/{CONSUMER_REF}"


def test_it_serves_v2_1_beside_v2_on_the_same_records(sandbox):
    _, _, written = call(sandbox, "PATCH", V21_CONSUMER, {"lastName": "Beirne"})
    status, _, read = call(sandbox, "GET", CONSUMER_PATH)

    assert status == 200
    assert read["lastName"] == "Beirne"
    assert read["modifiedAt"] == written["modifiedAt"]
    assert written["href"] == f"{sandbox.base_url}{V21_CONSUMER}"
    assert written["guest"]["href"].startswith(f"{sandbox.base_url}/v2.1/guests/")
    assert read["guest"]["href"].startswith(f"{sandbox.base_url}/v2/guests/")


def test_a_v2_1_list_carries_refs_and_first_last_and_next_links(sandbox):
    base = f"/v2.1/orders/{ORDER_REF}/consumers"
    _, _, first = call(sandbox, "GET", f"{base}?limit=2")
    _, _, last = call(sandbox, "GET", f"{base}?offset=2&limit=2")

    assert {"href", "ref"} == set(first["items"][0])
    assert first["items"][0]["href"].endswith(f"/v2.1/orderConsumers/{first['items'][0]['ref']}")
    assert first["first"] == {"href": f"{sandbox.base_url}{base}?offset=0&limit=2"}
    assert first["last"] == {"href": f"{sandbox.base_url}{base}?offset=2&limit=2"}
    assert first["next"] == {"href": f"{sandbox.base_url}{base}?offset=2&limit=2"}
    assert "next" not in last


def test_a_v2_list_carries_first_and_last_but_no_next_and_no_refs(sandbox):
    _, _, page = call(sandbox, "GET", f"/v2/orders/{ORDER_REF}/consumers?limit=2")

    assert set(page["items"][0]) == {"href"}
    assert {"first", "last"} <= set(page)
    assert "next" not in page


def test_expand_true_answers_an_orders_consumers_as_whole_records_unless_switched_off(sandbox):
    path = f"/v2.1/orders/{ORDER_REF}/consumers?expand=true"
    _, _, expanded = call(sandbox, "GET", path)
    sandbox.config.expand_consumers = False
    _, _, links_only = call(sandbox, "GET", path)

    assert expanded["items"][0]["firstName"] == "Liam"
    assert expanded["items"][0]["href"].startswith(f"{sandbox.base_url}/v2.1/orderConsumers/")
    assert set(links_only["items"][0]) == {"href", "ref"}


def test_an_expanded_orders_href_keeps_its_expand(sandbox):
    _, _, order = call(sandbox, "GET", f"/v2/orders/{ORDER_REF}?expand=orderItems")

    assert order["href"] == f"{sandbox.base_url}/v2/orders/{ORDER_REF}?expand=orderItems"
    assert order["orderItems"]["items"][0]["type"] == "FLIGHT"


def test_patch_changes_only_what_it_sends_and_a_null_clears(sandbox):
    before = sandbox.consumer(CONSUMER_REF)

    status, _, after = call(sandbox, "PATCH", V21_CONSUMER, {"lastName": "Beirne", "title": None})

    assert status == 201
    assert after["lastName"] == "Beirne"
    assert "title" not in after
    assert after["specialAssistance"] == before["specialAssistance"]
    assert after["emails"] == before["emails"]


def test_patch_can_be_told_to_refuse_a_null_so_clearing_takes_a_put(sandbox):
    sandbox.config.patch_clears_with_null = False

    status, _, body = call(sandbox, "PATCH", V21_CONSUMER, {"title": None})
    put = {k: v for k, v in sandbox.consumer(CONSUMER_REF, "v2.1").items() if k != "title"}
    put_status, _, replaced = call(sandbox, "PUT", V21_CONSUMER, put)

    assert status == 400
    assert body["message"].startswith("title: may not be null.")
    assert "PUT" in body["message"]
    assert put_status == 201
    assert "title" not in replaced


def test_put_replaces_the_whole_record_and_post_is_v2s(sandbox):
    status, _, replaced = call(sandbox, "PUT", V21_CONSUMER, {"firstName": "A", "lastName": "B"})
    post_status, _, _ = call(sandbox, "POST", V21_CONSUMER, {"firstName": "A", "lastName": "B"})
    put_v2, _, _ = call(sandbox, "PUT", CONSUMER_PATH, {"firstName": "A", "lastName": "B"})

    assert status == 201
    assert "emails" not in replaced
    assert post_status == 404
    assert put_v2 == 404


def test_delete_answers_204_with_no_body_in_v2_1(sandbox):
    status, _, body = call(sandbox, "DELETE", V21_CONSUMER)
    gone, _, _ = call(sandbox, "GET", CONSUMER_PATH)

    assert (status, body, gone) == (204, None, 404)


def test_v2_1_validates_its_enums_and_a_date_of_birth_in_the_past(sandbox):
    future, _, body = call(sandbox, "PATCH", V21_CONSUMER, {"dateOfBirth": "2999-01-01T00:00Z"})
    gender, _, _ = call(sandbox, "PATCH", V21_CONSUMER, {"gender": "Male"})

    assert (future, body["message"]) == (400, "dateOfBirth: Date must be in the past.")
    assert gender == 400


def test_v2_1_refuses_both_order_list_parameters_and_sorts(sandbox):
    both, _, body = call(sandbox, "GET", f"/v2.1/orders?referenceId=B94TXY-1&guestRef={ORDER_REF}")
    bad_sort, _, _ = call(sandbox, "GET", "/v2.1/orders?referenceId=B94TXY-1&sort=price")
    status, _, page = call(sandbox, "GET", "/v2.1/orders?referenceId=B94TXY-1&sort=orderedAt")

    assert (both, bad_sort, status) == (400, 400, 200)
    assert "not both" in body["message"]
    assert page["items"][0]["ref"] == ORDER_REF


def test_a_guests_orders_are_those_they_own_as_contact_or_with_the_switch_those_they_travel_on(
    sandbox,
):
    traveller = seed.make_ref("guest", 1)  # on order 0, whose contact is guest 0
    _, _, owned = call(sandbox, "GET", f"/v2/orders?guestRef={traveller}")
    _, _, booker = call(sandbox, "GET", f"/v2/orders?guestRef={seed.make_ref('guest', 0)}")
    sandbox.config.guest_orders_by = "consumer"
    _, _, travelled = call(sandbox, "GET", f"/v2/orders?guestRef={traveller}")

    assert owned["items"] == []
    assert len(booker["items"]) == 1
    assert travelled["items"][0]["href"].endswith(f"/v2/orders/{ORDER_REF}")


def test_the_404_body_is_the_documented_one(sandbox):
    status, _, body = call(sandbox, "GET", "/v2.1/guests/00000000-0000-0000-0000-000000000000")

    assert status == 404
    assert body["message"] == "The specified resource does not exist."
    assert body["developerMessage"] == (
        "No guest found with ref 00000000-0000-0000-0000-000000000000."
    )


def test_a_version_left_out_answers_404(sandbox):
    sandbox.config.versions = ["v2.1"]

    status, _, _ = call(sandbox, "GET", CONSUMER_PATH)

    assert status == 404


def test_the_request_log_shows_method_path_and_body_of_every_call(sandbox, capsys):
    sandbox.log_requests = True
    try:
        call(sandbox, "PATCH", V21_CONSUMER, {"lastName": "Beirne"})
    finally:
        sandbox.log_requests = False

    [logged] = sandbox.requests_to("PATCH", V21_CONSUMER)
    assert (logged.method, logged.body, logged.status) == ("PATCH", {"lastName": "Beirne"}, 201)
    printed = capsys.readouterr().out
    assert f'PATCH {V21_CONSUMER} -> 201 {{"lastName": "Beirne"}}' in printed


def test_a_v2_1_order_items_name_is_at_most_128_characters(sandbox):
    item = next(iter(sandbox.data.order_items))
    path = f"/v2.1/orderItems/{item}"

    too_long, _, body = call(sandbox, "PUT", path, {"name": "x" * 129, "type": "FLIGHT"})
    status, _, saved = call(sandbox, "PUT", path, {"name": "x" * 128, "type": "FLIGHT"})

    assert (too_long, body["message"]) == (400, "name: size must be between 0 and 128.")
    assert (status, saved["name"]) == (201, "x" * 128)
    assert saved["order"]["href"].startswith(f"{sandbox.base_url}/v2.1/orders/")
