"""Fetching, caching and pushing edits to CDP, against the sandbox over real HTTP."""

import socket

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEntry
from audit.services import RequestMeta
from cdp_sandbox.server import Fault
from consumers import services
from consumers.models import Order, OrderConsumer, Push
from tests.conftest import CONSUMER_REF, ORDER_REF, OTHER_ORDER_REF

CONSUMER_PATH = f"/v2/orderConsumers/{CONSUMER_REF}"
META = RequestMeta(ip_address="203.0.113.7", user_agent="pytest", request_id="req-0001")


@pytest.fixture
def consumer(db, sandbox):
    return services.consumer_fetch(ref=CONSUMER_REF)


def push(consumer, agent, **changes):
    data = {
        "title": consumer.title,
        "first_name": consumer.first_name,
        "last_name": consumer.last_name,
        "gender": consumer.gender,
        "guest_ref": consumer.guest_ref,
        "order_item_refs": list(consumer.order_item_refs),
        **changes,
    }
    return services.consumer_push_update(
        consumer=consumer,
        data=data,
        loaded_modified_at=consumer.cdp_modified_at,
        user=agent,
        meta=META,
    )


def updates_sent(sandbox):
    return sandbox.requests_to("POST", CONSUMER_PATH)


# --- fetching and caching ------------------------------------------------------------------


def test_it_caches_a_consumer_with_its_guests_name_and_its_order(consumer):
    assert consumer.first_name == "Liam"
    assert consumer.last_name == "Byrne"
    assert consumer.title == "Mr"
    assert consumer.gender == "male"
    assert consumer.order_ref == ORDER_REF
    assert consumer.guest_name == "Liam Byrne"
    assert len(consumer.order_item_refs) == 2
    assert consumer.cdp_modified_at is not None
    assert consumer.raw["emails"] == ["liam.byrne@example.com"]
    assert Order.objects.get(ref=ORDER_REF).reference_id == "B94TXY-1"


def test_it_serves_a_cached_consumer_without_calling_cdp(consumer, sandbox):
    sandbox.requests.clear()

    assert services.consumer_get(ref=CONSUMER_REF) == consumer
    assert list(sandbox.requests) == []


def test_it_fetches_an_order_and_caches_each_of_its_consumers(db, sandbox):
    order, consumers = services.order_fetch(ref=ORDER_REF)

    assert order.status == "CONFIRMED"
    assert [c.first_name for c in consumers] == ["Liam", "Aoife", "Saoirse"]
    assert OrderConsumer.objects.filter(order_ref=ORDER_REF).count() == 3


def test_it_finds_an_order_by_ref_or_by_booking_reference(db, sandbox):
    assert services.order_find(reference=ORDER_REF) == [ORDER_REF]
    assert services.order_find(reference="K2LMQA-1") == [OTHER_ORDER_REF]
    assert services.order_find(reference="NOPE-1") == []


def test_it_searches_cached_consumers_by_the_start_of_their_names(db, sandbox):
    services.order_fetch(ref=ORDER_REF)

    assert {c.first_name for c in services.consumer_search(query="byr")} == {
        "Liam",
        "Aoife",
        "Saoirse",
    }
    assert [c.first_name for c in services.consumer_search(query="aoife BYRNE")] == ["Aoife"]
    assert list(services.consumer_search(query="   ")) == []


# --- pushing an edit -------------------------------------------------------------------------


def test_it_sends_the_whole_record_so_attributes_the_form_does_not_show_survive(
    consumer, agent, sandbox
):
    before = sandbox.consumer(CONSUMER_REF)

    result = push(consumer, agent, last_name="Beirne")

    assert result.outcome == services.Outcome.SUCCEEDED
    [sent] = updates_sent(sandbox)
    for attribute in (
        "emails",
        "phoneNumbers",
        "dateOfBirth",
        "passportNumber",
        "passportExpiry",
        "identifiers",
        "nationality",
        "country",
        "guest",
        "orderItems",
        "specialAssistance",
    ):
        assert sent.body[attribute] == before[attribute], attribute
    after = sandbox.consumer(CONSUMER_REF)
    assert after["lastName"] == "Beirne"
    assert {k: v for k, v in after.items() if k not in ("lastName", "modifiedAt")} == {
        k: v for k, v in before.items() if k not in ("lastName", "modifiedAt")
    }


def test_it_leaves_out_what_cdp_sets_itself(consumer, agent, sandbox):
    push(consumer, agent, first_name="William")

    [sent] = updates_sent(sandbox)
    assert not {"href", "ref", "createdAt", "modifiedAt", "order"} & set(sent.body)


def test_it_updates_the_cache_from_cdps_reply_and_writes_a_succeeded_audit_entry(
    consumer, agent, sandbox
):
    result = push(consumer, agent, last_name="Beirne", title="Dr")

    consumer.refresh_from_db()
    assert consumer.last_name == "Beirne"
    assert consumer.title == "Dr"
    assert (
        consumer.cdp_modified_at.isoformat().replace("+00:00", "Z")[:23]
        == sandbox.consumer(CONSUMER_REF)["modifiedAt"][:23]
    )
    entry = AuditEntry.objects.get()
    assert entry.outcome == AuditEntry.Outcome.SUCCEEDED
    assert (entry.username, entry.ip_address, entry.user_agent, entry.request_id) == (
        "agent",
        "203.0.113.7",
        "pytest",
        "req-0001",
    )
    assert (entry.consumer_ref, entry.order_ref) == (CONSUMER_REF, ORDER_REF)
    assert {(c.field, c.old_value, c.new_value) for c in entry.changes.all()} == {
        ("last_name", "Byrne", "Beirne"),
        ("title", "Mr", "Dr"),
    }
    assert result.consumer.last_name == "Beirne"
    assert Push.objects.get().status == Push.Status.SUCCEEDED


def test_an_unchanged_form_makes_no_call_and_no_audit_entry(consumer, agent, sandbox):
    sandbox.requests.clear()

    result = push(consumer, agent, order_item_refs=list(reversed(consumer.order_item_refs)))

    assert result.outcome == services.Outcome.UNCHANGED
    assert list(sandbox.requests) == []
    assert not AuditEntry.objects.exists()


def test_clearing_an_optional_field_leaves_it_out_of_the_record(consumer, agent, sandbox):
    push(consumer, agent, title="", gender="")

    after = sandbox.consumer(CONSUMER_REF)
    assert "title" not in after
    assert "gender" not in after
    consumer.refresh_from_db()
    assert (consumer.title, consumer.gender) == ("", "")


def test_it_relinks_the_guest_and_caches_the_new_guests_name(consumer, agent, sandbox):
    other_guest = next(ref for ref in sandbox.data.guests if ref != consumer.guest_ref)

    push(consumer, agent, guest_ref=other_guest)

    assert sandbox.consumer(CONSUMER_REF)["guest"] == {
        "href": f"{sandbox.base_url}/v2/guests/{other_guest}"
    }
    consumer.refresh_from_db()
    assert consumer.guest_ref == other_guest
    assert consumer.guest_name == "Aoife Byrne"


def test_it_refuses_a_guest_cdp_does_not_know_and_sends_nothing(consumer, agent, sandbox):
    with pytest.raises(ValidationError) as caught:
        push(consumer, agent, guest_ref="00000000-0000-0000-0000-000000000000")

    assert "guest_ref" in caught.value.message_dict
    assert updates_sent(sandbox) == []
    assert not AuditEntry.objects.exists()


def test_it_refuses_an_order_item_of_another_order_and_sends_nothing(consumer, agent, sandbox):
    foreign_item = next(
        ref for ref, item in sandbox.data.order_items.items() if item["order"] != ORDER_REF
    )

    with pytest.raises(ValidationError) as caught:
        push(consumer, agent, order_item_refs=[*consumer.order_item_refs, foreign_item])

    assert foreign_item in caught.value.message_dict["order_item_refs"][0]
    assert updates_sent(sandbox) == []


def test_it_reads_the_record_back_when_cdps_reply_to_an_update_is_not_the_record(
    consumer, agent, sandbox, monkeypatch
):
    original = sandbox._update_consumer
    monkeypatch.setattr(
        sandbox, "_update_consumer", lambda record, body: {"ref": original(record, body)["ref"]}
    )

    result = push(consumer, agent, last_name="Beirne")

    assert result.outcome == services.Outcome.SUCCEEDED
    assert result.consumer.last_name == "Beirne"
    assert result.consumer.raw["emails"] == ["liam.byrne@example.com"]


# --- conflicts -------------------------------------------------------------------------------


def test_it_refuses_to_overwrite_a_newer_cdp_version(consumer, agent, sandbox):
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")

    result = push(consumer, agent, first_name="William")

    assert result.outcome == services.Outcome.CONFLICT
    assert result.current == {"first_name": "Liam"}
    assert updates_sent(sandbox) == []
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Byrne-Walsh"
    assert result.consumer.last_name == "Byrne-Walsh"
    assert AuditEntry.objects.get().outcome == AuditEntry.Outcome.CONFLICT


# --- failures: a clear message, an unchanged cache and a failed audit entry --------------------


def assert_failed_cleanly(consumer, sandbox, result, *, status, message):
    assert result.outcome == services.Outcome.FAILED
    assert message in str(result.error)
    cached = OrderConsumer.objects.get(ref=CONSUMER_REF)
    assert (cached.first_name, cached.last_name, cached.cdp_modified_at) == (
        consumer.first_name,
        consumer.last_name,
        consumer.cdp_modified_at,
    )
    entry = AuditEntry.objects.get()
    assert entry.outcome == AuditEntry.Outcome.FAILED
    assert entry.cdp_status == status
    assert entry.changes.count() == 1
    assert Push.objects.get().status == Push.Status.FAILED


def test_a_validation_error_from_cdp_fails_cleanly_with_cdps_message(consumer, agent, sandbox):
    sandbox.config.max_string_length = 20

    result = push(consumer, agent, last_name="Byrne-" + "x" * 30)

    assert_failed_cleanly(
        consumer, sandbox, result, status=400, message="lastName: size must be between 0 and 20."
    )
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Byrne"


def test_a_refused_token_fails_cleanly(consumer, agent, sandbox, settings):
    settings.CDP_API_TOKEN = "revoked"

    result = push(consumer, agent, last_name="Beirne")

    assert_failed_cleanly(
        consumer, sandbox, result, status=401, message="Authentication credentials are required"
    )


def test_a_consumer_gone_from_cdp_fails_cleanly(consumer, agent, sandbox):
    del sandbox.data.consumers[CONSUMER_REF]

    result = push(consumer, agent, last_name="Beirne")

    assert_failed_cleanly(consumer, sandbox, result, status=404, message="No order consumer found")


def test_a_timeout_fails_cleanly(consumer, agent, sandbox, settings):
    settings.CDP_TIMEOUT = 0.2
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, latency=1.0))

    result = push(consumer, agent, last_name="Beirne")

    assert_failed_cleanly(
        consumer, sandbox, result, status=None, message="did not answer within 0.2 seconds"
    )


def test_a_refused_connection_fails_cleanly(consumer, agent, settings, sandbox):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        settings.CDP_BASE_URL = f"http://127.0.0.1:{unused.getsockname()[1]}"

    result = push(consumer, agent, last_name="Beirne")

    assert_failed_cleanly(consumer, sandbox, result, status=None, message="connection refused")


def test_a_server_error_on_the_update_fails_cleanly(consumer, agent, sandbox):
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, status=503))

    result = push(consumer, agent, last_name="Beirne")

    assert_failed_cleanly(consumer, sandbox, result, status=503, message="HTTP 503")
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Byrne"
