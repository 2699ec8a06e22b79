"""The edit page: it starts from CDP's version, and every outcome of a save."""

import re

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from cdp_sandbox.server import Fault
from consumers.models import OrderConsumer, Push
from tests.conftest import CONSUMER_REF, ORDER_REF, cdp_path, edit_url, form_data, update_method

# Run for each API version CDP speaks (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("api_version")

CONSUMER_PATH = cdp_path("orderConsumers", CONSUMER_REF)


def test_the_edit_page_starts_from_cdps_current_version(agent_client, sandbox):
    agent_client.get(reverse("consumers:detail", kwargs={"ref": CONSUMER_REF}))
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")

    response = agent_client.get(edit_url())

    assert response.context["form"]["last_name"].value() == "Byrne-Walsh"
    main = response.content.decode().partition('<main id="main"')[2]
    labels = re.findall(r"<label[^>]*>\s*([^<]+?)\s*<", main)
    assert labels[:5] == ["Title", "First name", "Last name", "Gender", "Guest"]
    # The order items are a group of checkboxes, one per item of the order, named as words.
    assert re.search(r"<legend[^>]*>\s*Order items", main)
    assert labels[5].startswith("Flight EI150 DUB→LHR")
    assert ">Save</button>" in response.content.decode()


def test_saving_an_edit_sends_it_to_cdp_and_shows_the_new_name_and_the_audit_entry(
    agent_client, sandbox
):
    response = agent_client.post(
        edit_url(), form_data(agent_client, last_name="Beirne"), follow=True
    )

    content = response.content.decode()
    assert response.redirect_chain == [
        (reverse("consumers:detail", kwargs={"ref": CONSUMER_REF}), 302)
    ]
    assert "Saved Liam Beirne to CDP." in content
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Beirne"
    assert '<span class="diff-old">Byrne</span> → <span class="diff-new">Beirne</span>' in content
    entry = AuditEntry.objects.get(action=AuditEntry.Action.EDIT)
    assert entry.user_agent == ""
    assert entry.ip_address == "127.0.0.1"
    assert len(entry.request_id) == 32


def test_saving_without_changes_sends_nothing_and_says_so(agent_client, sandbox):
    data = form_data(agent_client)

    response = agent_client.post(edit_url(), data, follow=True)

    assert "Nothing was changed, so nothing was sent to CDP." in response.content.decode()
    assert sandbox.requests_to(update_method(), CONSUMER_PATH) == []


def test_a_form_error_sends_nothing_and_keeps_the_agents_input(agent_client, sandbox):
    data = form_data(agent_client, first_name="", last_name="Beirne", guest_ref="not-a-ref")
    sandbox.requests.clear()

    response = agent_client.post(edit_url(), data)

    content = response.content.decode()
    assert response.status_code == 200
    assert "Enter a first name: CDP requires one." in content
    assert "not-a-ref is not a CDP ref" in content
    assert 'value="Beirne"' in content
    assert list(sandbox.requests) == []
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.EDIT).exists()


def test_cdps_refusal_is_shown_with_the_agents_input_kept(agent_client, sandbox):
    data = form_data(agent_client, last_name="Byrne-" + "x" * 30)
    sandbox.config.max_string_length = 20

    response = agent_client.post(edit_url(), data)

    content = response.content.decode()
    assert response.status_code == 200
    assert "CDP did not save the change." in content
    assert "lastName: size must be between 0 and 20." in content
    assert f'value="Byrne-{"x" * 30}"' in content
    assert (
        AuditEntry.objects.get(action=AuditEntry.Action.EDIT).outcome == AuditEntry.Outcome.FAILED
    )


def test_a_timeout_queues_the_change_and_the_consumer_page_shows_it(
    agent_client, sandbox, settings
):
    data = form_data(agent_client, last_name="Beirne")
    settings.CDP_TIMEOUT = 0.2
    sandbox.inject(Fault(method=update_method(), path=CONSUMER_PATH, status=503, times=None))

    response = agent_client.post(edit_url(), data, follow=True)

    content = response.content.decode()
    assert "your edit is queued and will be sent automatically" in content
    assert "Changes not in CDP yet" in content
    assert '<span class="diff-new">Beirne</span>' in content
    assert OrderConsumer.objects.get(ref=CONSUMER_REF).last_name == "Byrne"
    assert Push.objects.get().status == Push.Status.PENDING
    assert response.context["sync_state"] == "pending"
    order = agent_client.get(reverse("consumers:order", kwargs={"ref": ORDER_REF}))
    states = {consumer.ref: state for consumer, state, *_ in order.context["consumers"]}
    assert states.pop(CONSUMER_REF) == "pending"
    assert set(states.values()) == {"synced"}


def test_an_unknown_guest_is_a_form_error_and_nothing_is_sent(agent_client, sandbox):
    data = form_data(agent_client, guest_ref="00000000-0000-0000-0000-000000000000")

    response = agent_client.post(edit_url(), data)

    assert (
        "CDP has no guest with ref 00000000-0000-0000-0000-000000000000."
        in response.content.decode()
    )
    assert sandbox.requests_to(update_method(), CONSUMER_PATH) == []


def test_a_supervisor_and_an_administrator_can_edit_too(client, supervisor, administrator, sandbox):
    for user in (supervisor, administrator):
        client.force_login(user)
        assert client.get(edit_url()).status_code == 200
