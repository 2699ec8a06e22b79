"""Fetching and caching consumers and orders from CDP, against the sandbox over real HTTP."""

import pytest

from consumers import services
from consumers.models import Order, OrderConsumer, Push
from consumers.services import sync_state
from tests.conftest import CONSUMER_REF, ORDER_REF, OTHER_ORDER_REF

# Run for each API version CDP speaks (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("api_version")


@pytest.fixture
def consumer(db, sandbox):
    return services.consumer_fetch(ref=CONSUMER_REF)


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
    page = services.order_fetch(ref=ORDER_REF)

    assert page.order.status == "CONFIRMED"
    assert [c.first_name for c in page.consumers] == ["Liam", "Aoife", "Saoirse"]
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


def test_a_consumers_sync_state_is_the_worst_of_its_pushes():
    assert sync_state([]) == "synced"
    assert sync_state([Push.Status.SENDING]) == "pending"
    assert sync_state([Push.Status.PENDING, Push.Status.FAILED]) == "failed"
    assert sync_state([Push.Status.FAILED, Push.Status.CONFLICT]) == "conflict"
