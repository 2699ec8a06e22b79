"""A revert asks first: it shows the exact values it will send, and an entry is reverted once."""

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from audit.services import RequestMeta
from cdp_sandbox.server import Fault
from consumers import pushes, services
from consumers.models import OrderConsumer, Push
from tests.conftest import CONSUMER_REF, cdp_path, update_method

# Run for each API version CDP speaks (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("api_version")

META = RequestMeta(ip_address="203.0.113.9", user_agent="pytest", request_id="revert")
CONSUMER_PATH = cdp_path("orderConsumers", CONSUMER_REF)


def edit(user, **changes):
    consumer = services.consumer_fetch(ref=CONSUMER_REF)
    return pushes.consumer_push_update(
        consumer=consumer,
        data={**consumer.editable_values(), **changes},
        loaded_modified_at=consumer.cdp_modified_at,
        user=user,
        meta=META,
    )


@pytest.fixture
def supervisor_client(client, supervisor):
    client.force_login(supervisor)
    return client


def revert_url(entry) -> str:
    return reverse("consumers:revert", args=[entry.pk])


def detail(client, entry) -> str:
    return client.get(reverse("audit:detail", args=[entry.pk])).content.decode()


def test_the_revert_page_shows_field_by_field_what_it_will_send_and_changes_nothing(
    supervisor_client, agent, sandbox
):
    entry = edit(agent, last_name="Beirne", title="Dr").entry
    sandbox.requests.clear()

    response = supervisor_client.get(revert_url(entry))

    content = response.content.decode()
    assert response.status_code == 200
    rows = [(row["label"], row["now"], row["sends"]) for row in response.context["preview"].rows]
    assert rows == [("Title", "Dr", "Mr"), ("Last name", "Beirne", "Byrne")]
    assert '<span class="diff-old">Beirne</span> → <span class="diff-new">Byrne</span>' in content
    assert f'<form method="post" action="{revert_url(entry)}"' in content
    assert sandbox.requests_to(update_method(), CONSUMER_PATH) == []  # read from CDP, nothing sent
    assert sandbox.requests_to("GET", CONSUMER_PATH) != []
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.REVERT).exists()
    assert f'href="{revert_url(entry)}"' in detail(supervisor_client, entry)


def test_the_preview_refuses_when_a_field_changed_since(supervisor_client, agent, sandbox):
    entry = edit(agent, last_name="Beirne").entry
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")

    content = supervisor_client.get(revert_url(entry)).content.decode()

    assert "Last name was changed again since this change" in content
    assert "Byrne-Walsh" in content
    assert '<form method="post"' not in content.partition('id="main"')[2]


def test_the_preview_says_when_cdp_cannot_be_read(supervisor_client, agent, sandbox):
    entry = edit(agent, last_name="Beirne").entry
    sandbox.inject(Fault(method="GET", path=CONSUMER_PATH, status=503, times=None))

    response = supervisor_client.get(revert_url(entry))

    assert response.status_code == 200
    assert "CDP could not be read" in response.content.decode()
    assert '<form method="post"' not in response.content.decode().partition('id="main"')[2]


def test_a_reverted_change_no_longer_offers_revert_and_a_second_revert_is_refused(
    supervisor_client, agent, sandbox
):
    entry = edit(agent, last_name="Beirne").entry
    supervisor_client.post(revert_url(entry))
    [revert] = AuditEntry.objects.filter(action=AuditEntry.Action.REVERT)
    sandbox.requests.clear()

    page = detail(supervisor_client, entry)
    preview = supervisor_client.get(revert_url(entry)).content.decode()
    again = supervisor_client.post(revert_url(entry), follow=True).content.decode()

    assert f'href="{revert_url(entry)}"' not in page
    assert f"Already reverted, by audit entry {revert.sequence}." in page
    assert f"Already reverted, by audit entry {revert.sequence}." in preview
    assert f"Not reverted. Already reverted, by audit entry {revert.sequence}." in again
    assert AuditEntry.objects.filter(action=AuditEntry.Action.REVERT).count() == 1
    assert sandbox.requests_to(update_method(), CONSUMER_PATH) == []
    with pytest.raises(pushes.RevertRefused):
        pushes.consumer_revert(entry=entry, user=agent, meta=META)


def test_a_revert_still_queued_is_not_made_twice(supervisor_client, agent, sandbox, settings):
    settings.PUSH_RETRY_DELAY = settings.PUSH_RETRY_DELAY_MAX = 3600
    entry = edit(agent, last_name="Beirne").entry
    sandbox.inject(Fault(method=update_method(), path=CONSUMER_PATH, status=503, times=None))
    supervisor_client.post(revert_url(entry))
    assert Push.objects.get(reverts_id=entry.pk).status == Push.Status.PENDING

    again = supervisor_client.post(revert_url(entry), follow=True).content.decode()

    assert "Not reverted. A revert of this change is already queued for CDP" in again
    assert Push.objects.filter(reverts_id=entry.pk).count() == 1


# --- the revert itself ---------------------------------------------------------------------


def test_a_supervisor_reverts_a_change_through_cdp(supervisor_client, agent, sandbox):
    result = edit(agent, last_name="Beirne")

    response = supervisor_client.post(
        reverse("consumers:revert", args=[result.entry.pk]), {"reason": "agent error"}, follow=True
    )

    assert "Reverted: CDP holds the old values again" in response.content.decode()
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Byrne"
    assert sandbox.consumer(CONSUMER_REF)["emails"] == ["liam.byrne@example.com"]
    revert = AuditEntry.objects.get(action=AuditEntry.Action.REVERT)
    assert revert.reverts == result.entry
    assert revert.reason_text == "agent error"
    assert [(c.field, c.old_text, c.new_text) for c in revert.changes.all()] == [
        ("last_name", "Beirne", "Byrne")
    ]
    assert OrderConsumer.objects.get(ref=CONSUMER_REF).last_name == "Byrne"
    assert (
        "Reverted by"
        in supervisor_client.get(reverse("audit:detail", args=[result.entry.pk])).content.decode()
    )


def test_a_revert_of_order_items_and_guest_restores_the_links(supervisor_client, agent, sandbox):
    consumer = services.consumer_fetch(ref=CONSUMER_REF)
    other_guest = next(ref for ref in sandbox.data.guests if ref != consumer.guest_ref)
    result = edit(agent, guest_ref=other_guest, order_item_refs=consumer.order_item_refs[:1])

    supervisor_client.post(reverse("consumers:revert", args=[result.entry.pk]))

    after = OrderConsumer.objects.get(ref=CONSUMER_REF)
    assert after.guest_ref == consumer.guest_ref
    assert sorted(after.order_item_refs) == sorted(consumer.order_item_refs)


def test_a_revert_is_refused_when_the_field_changed_again_since(supervisor_client, agent, sandbox):
    result = edit(agent, last_name="Beirne")
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")

    response = supervisor_client.post(
        reverse("consumers:revert", args=[result.entry.pk]), follow=True
    )

    content = response.content.decode()
    assert "Not reverted. Last name was changed again since this change" in content
    assert "Byrne-Walsh" in content
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Byrne-Walsh"
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.REVERT).exists()


def test_a_failed_change_cannot_be_reverted(supervisor_client, agent, sandbox):
    sandbox.config.max_string_length = 5
    result = edit(agent, last_name="Featherstonehaugh")

    response = supervisor_client.post(
        reverse("consumers:revert", args=[result.entry.pk]), follow=True
    )

    assert "Only a change that reached CDP" in response.content.decode()


def test_a_revert_that_cdp_refuses_is_audited_as_failed(supervisor_client, agent, sandbox):
    result = edit(agent, last_name="Beirne")
    sandbox.config.max_string_length = 4  # CDP now refuses every longer text attribute

    response = supervisor_client.post(
        reverse("consumers:revert", args=[result.entry.pk]), follow=True
    )

    assert "Not reverted: CDP did not save the change." in response.content.decode()
    assert (
        AuditEntry.objects.get(action=AuditEntry.Action.REVERT).outcome == AuditEntry.Outcome.FAILED
    )


def test_a_revert_cdp_cannot_take_now_is_queued(supervisor_client, agent, sandbox):
    result = edit(agent, last_name="Beirne")
    sandbox.inject(Fault(method=update_method(), path=CONSUMER_PATH, status=503, times=None))

    response = supervisor_client.post(
        reverse("consumers:revert", args=[result.entry.pk]), follow=True
    )

    assert "the revert is queued and will be sent automatically" in response.content.decode()
    revert = AuditEntry.objects.get(action=AuditEntry.Action.REVERT)
    assert (revert.outcome, revert.reverts) == (AuditEntry.Outcome.PENDING, result.entry)


def test_agents_cannot_revert(agent_client, agent):
    result = edit(agent, last_name="Beirne")

    assert agent_client.post(reverse("consumers:revert", args=[result.entry.pk])).status_code == 403


def test_revert_needs_a_post_a_get_only_shows_what_it_would_send(supervisor_client, agent):
    result = edit(agent, last_name="Beirne")

    assert (
        supervisor_client.get(reverse("consumers:revert", args=[result.entry.pk])).status_code
        == 200
    )
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.REVERT).exists()
