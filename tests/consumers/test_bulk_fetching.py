"""Many consumers at once: an order's consumers and bulk refreshes fetch concurrently, bounded."""

import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cdp_sandbox.server import Fault
from consumers import services
from consumers.models import Order, OrderConsumer
from tests.conftest import CONSUMER_REF, ORDER_REF, cdp_path

# Run for each API version CDP speaks (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("api_version")


@pytest.fixture(autouse=True)
def consumers_one_call_each(sandbox):
    """These tests watch the call per consumer, which v2.1's expanded list spares (see
    test_v2_1_reads_an_orders_consumers_in_one_call_when_cdp_expands_them)."""
    sandbox.config.expand_consumers = False


def add_consumers(sandbox, count: int) -> list[str]:
    """Put `count` more consumers on the first demo order, copies of its first one."""
    refs = []
    for number in range(count):
        ref = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bulk-{number}"))
        sandbox.data.consumers[ref] = {
            **sandbox.data.consumers[CONSUMER_REF],
            "ref": ref,
            "firstName": f"T{number}",
        }
        refs.append(ref)
    return refs


def test_an_orders_consumers_are_fetched_at_once_but_no_more_than_the_limit(db, sandbox, settings):
    settings.CDP_CONCURRENCY = 4
    add_consumers(sandbox, 20)
    sandbox.inject(
        Fault(method="GET", path=cdp_path("orderConsumers", ".*"), latency=0.05, times=None)
    )

    page = services.order_fetch(ref=ORDER_REF)

    assert len(page.consumers) == 23
    assert page.failed == {}
    assert sandbox.max_in_flight == 4
    assert OrderConsumer.objects.filter(order_ref=ORDER_REF).count() == 23


def test_v2_1_reads_an_orders_consumers_in_one_call_when_cdp_expands_them(db, sandbox, api_version):
    sandbox.config.expand_consumers = True
    add_consumers(sandbox, 20)

    page = services.order_fetch(ref=ORDER_REF)

    assert len(page.consumers) == 23
    [listed] = sandbox.requests_to("GET", cdp_path("orders", ORDER_REF, "consumers"))
    one_each = sandbox.requests_to("GET", cdp_path("orderConsumers", ".*"))
    if api_version == "v2.1":
        assert listed.query["expand"] == "true"
        assert one_each == []
    else:
        assert "expand" not in listed.query
        assert len(one_each) == 23
    assert OrderConsumer.objects.get(ref=CONSUMER_REF).raw["emails"] == ["liam.byrne@example.com"]


def test_without_expansion_v2_1_reads_each_consumer_by_itself(db, sandbox, settings):
    settings.CDP_API_VERSION = "v2.1"

    page = services.order_fetch(ref=ORDER_REF)

    assert len(page.consumers) == 3
    assert len(sandbox.requests_to("GET", cdp_path("orderConsumers", ".*"))) == 3


def test_a_consumer_cdp_does_not_hand_over_is_reported_and_the_rest_are_shown(
    agent_client, sandbox
):
    missing = add_consumers(sandbox, 2)[0]
    sandbox.inject(
        Fault(method="GET", path=cdp_path("orderConsumers", missing), status=404, times=None)
    )

    response = agent_client.get(reverse("consumers:order", kwargs={"ref": ORDER_REF}))

    content = response.content.decode()
    assert response.status_code == 200
    assert "CDP did not hand over 1 of this order&#x27;s consumers" in content
    assert "Liam" in content
    assert not OrderConsumer.objects.filter(ref=missing).exists()


def queries_for_a_first_view(client, sandbox, extra_consumers: int):
    sandbox.reset()
    add_consumers(sandbox, extra_consumers)
    OrderConsumer.objects.all().delete()
    Order.objects.all().delete()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("consumers:order", kwargs={"ref": ORDER_REF}))
    assert response.status_code == 200
    return queries.captured_queries


def test_the_order_page_runs_the_same_queries_for_3_or_23_consumers(agent_client, sandbox):
    few = queries_for_a_first_view(agent_client, sandbox, 0)
    many = queries_for_a_first_view(agent_client, sandbox, 20)

    assert len(many) == len(few)
    # 20, the person's unread notifications for the badge, the approval badges, one read of the
    # do-not-send list (cdp.erasures), noting the order's travellers (j and k), and the reason
    # templates of its inline form.
    assert len(many) <= 25
    assert sum("cdp_cdpconnection" in q["sql"] for q in many) == 1  # looked up once per page


def refresh(*args) -> str:
    out = StringIO()
    call_command("refresh_consumers", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_refresh_consumers_by_order_brings_changes_from_cdp(db, sandbox):
    services.order_fetch(ref=ORDER_REF)
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")

    out = refresh("--order", ORDER_REF)

    assert "Refreshed 3 of 3 consumers" in out
    assert "0 failed" in out
    assert OrderConsumer.objects.get(ref=CONSUMER_REF).last_name == "Byrne-Walsh"


def test_refresh_consumers_from_a_file_of_refs(db, sandbox, tmp_path):
    listing = tmp_path / "refs.txt"
    listing.write_text(f"{CONSUMER_REF}\n\n")

    out = refresh("--file", str(listing))

    assert "Refreshed 1 of 1 consumers" in out
    assert OrderConsumer.objects.filter(ref=CONSUMER_REF).exists()


def test_refresh_consumers_by_age(db, sandbox):
    services.order_fetch(ref=ORDER_REF)
    OrderConsumer.objects.filter(ref=CONSUMER_REF).update(fetched_at="2020-01-01T00:00:00Z")

    out = refresh("--older-than", "1")

    assert "Refreshed 1 of 1 consumers" in out


def test_refresh_consumers_exits_non_zero_naming_each_failure(db, sandbox):
    services.order_fetch(ref=ORDER_REF)
    sandbox.inject(
        Fault(method="GET", path=cdp_path("orderConsumers", CONSUMER_REF), status=404, times=None)
    )
    out = StringIO()

    with pytest.raises(CommandError, match="1 consumer"):
        call_command("refresh_consumers", "--order", ORDER_REF, stdout=out, stderr=StringIO())

    assert f"{CONSUMER_REF}: Not found in CDP" in out.getvalue()
    assert "Refreshed 2 of 3" in out.getvalue()


def test_refresh_consumers_refuses_a_file_that_is_not_refs(db, tmp_path):
    listing = tmp_path / "refs.txt"
    listing.write_text("Liam Byrne\n")

    with pytest.raises(CommandError, match="not consumer refs"):
        refresh("--file", str(listing))


def test_refresh_consumers_needs_to_be_told_which(db):
    with pytest.raises(CommandError, match="Say which consumers"):
        refresh()


def test_a_refresh_asks_for_a_guest_only_when_the_link_changed(db, sandbox):
    services.order_fetch(ref=ORDER_REF)
    cached_guests = set(OrderConsumer.objects.values_list("guest_ref", flat=True))
    new_guest = next(ref for ref in sandbox.data.guests if ref not in cached_guests)
    sandbox.change_consumer(
        CONSUMER_REF, guest={"href": f"{sandbox.base_url}/v2/guests/{new_guest}"}
    )
    sandbox.requests.clear()

    refresh("--order", ORDER_REF)

    asked = [
        request.path.rsplit("/", 1)[1]
        for request in sandbox.requests_to("GET", cdp_path("guests", ".*"))
    ]
    assert asked == [new_guest]
    guest = sandbox.data.guests[new_guest]
    expected_name = f"{guest['firstName']} {guest['lastName']}"
    assert OrderConsumer.objects.get(ref=CONSUMER_REF).guest_name == expected_name
