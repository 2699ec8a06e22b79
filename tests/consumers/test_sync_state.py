"""The "In CDP" badge claims the page shows CDP's record with no edit outstanding: a consumer CDP
could not be asked about never wears a green "Synced", but "Not checked", with why."""

import pytest
from django.urls import reverse

from cdp_sandbox import seed
from cdp_sandbox.server import Fault
from consumers import bulk, services
from consumers.models import OrderConsumer
from tests.conftest import CONSUMER_REF, ORDER_REF, cdp_path

# Run for each API version CDP speaks (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("api_version")

DETAIL = reverse("consumers:detail", kwargs={"ref": CONSUMER_REF})
ORDER = reverse("consumers:order", kwargs={"ref": ORDER_REF})
CONSUMER_PATH = cdp_path("orderConsumers", CONSUMER_REF)


def cdp_refuses_to_read_the_consumer(sandbox) -> None:
    # Not even along with its order's list (v2.1's expand): each consumer is read by itself.
    sandbox.config.expand_consumers = False
    sandbox.inject(Fault(method="GET", path=CONSUMER_PATH, status=503, times=None))


def order_states(client) -> dict[str, str]:
    response = client.get(ORDER)
    return {consumer.ref: state for consumer, state, *_ in response.context["consumers"]}


def test_a_consumer_cdp_did_not_hand_over_on_an_order_refresh_is_not_checked(agent_client, sandbox):
    agent_client.get(ORDER)  # all three cached
    cdp_refuses_to_read_the_consumer(sandbox)

    refreshed = agent_client.post(reverse("consumers:order_refresh", args=[ORDER_REF]), follow=True)

    content = refreshed.content.decode()
    states = {consumer.ref: state for consumer, state, *_ in refreshed.context["consumers"]}
    assert states.pop(CONSUMER_REF) == "unchecked"
    assert set(states.values()) == {"synced"}
    assert "Not checked" in content
    assert "HTTP 503" in content  # why
    assert "1 is shown as last fetched" in content


def test_a_consumer_whose_edit_page_could_not_read_cdp_is_not_checked_until_read_again(
    agent_client, sandbox
):
    agent_client.get(DETAIL)
    cdp_refuses_to_read_the_consumer(sandbox)

    edit = agent_client.get(reverse("consumers:edit", args=[CONSUMER_REF]))
    detail = agent_client.get(DETAIL)

    assert "Showing the copy fetched" in edit.content.decode()
    assert detail.context["sync_state"] == "unchecked"
    content = detail.content.decode()
    assert 'data-testid="sync-state">Not checked<' in content
    assert "CDP could not be asked about this consumer" in content
    assert ">Synced<" not in content
    assert order_states(agent_client)[CONSUMER_REF] == "unchecked"

    sandbox.clear_faults()
    agent_client.post(reverse("consumers:refresh", args=[CONSUMER_REF]))

    assert agent_client.get(DETAIL).context["sync_state"] == "synced"
    assert OrderConsumer.objects.get(ref=CONSUMER_REF).fetch_error == ""


def test_a_conflict_page_that_could_not_read_cdp_leaves_the_consumer_not_checked(
    agent_client, sandbox
):
    edit_url = reverse("consumers:edit", args=[CONSUMER_REF])
    form = agent_client.get(edit_url).context["form"]
    data = {name: form[name].value() or "" for name in form.fields} | {"first_name": "William"}
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")
    conflict_page = agent_client.post(edit_url, data, follow=True)
    assert "changed in CDP while you edited" in conflict_page.content.decode()
    cdp_refuses_to_read_the_consumer(sandbox)

    agent_client.get(conflict_page.redirect_chain[-1][0])

    assert agent_client.get(DETAIL).context["sync_state"] == "conflict"  # the worse state shows
    assert OrderConsumer.objects.get(ref=CONSUMER_REF).fetch_failed_at is not None


def test_a_bulk_refresh_that_could_not_read_a_consumer_leaves_it_not_checked(
    agent, agent_client, sandbox
):
    agent_client.get(DETAIL)
    other = seed.make_ref("consumer", 1)
    services.consumer_fetch(ref=other)
    cdp_refuses_to_read_the_consumer(sandbox)

    job = bulk.bulk_refresh_start(user=agent, refs=[CONSUMER_REF, other])
    bulk.bulk_refresh_run(job_id=job.pk)

    assert agent_client.get(DETAIL).context["sync_state"] == "unchecked"
    states = order_states(agent_client)
    assert (states[CONSUMER_REF], states[other]) == ("unchecked", "synced")


def test_the_order_page_reads_the_badges_in_one_query_for_any_number_of_consumers(
    agent_client, sandbox, django_assert_max_num_queries
):
    agent_client.get(ORDER)
    cdp_refuses_to_read_the_consumer(sandbox)
    agent_client.post(reverse("consumers:order_refresh", args=[ORDER_REF]))

    consumers = list(OrderConsumer.objects.filter(order_ref=ORDER_REF))

    with django_assert_max_num_queries(1):
        states = services.consumers_sync_states(consumers=consumers)

    assert states == {
        consumer.ref: "unchecked" if consumer.ref == CONSUMER_REF else "synced"
        for consumer in consumers
    }
