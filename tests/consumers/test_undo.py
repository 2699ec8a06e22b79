"""An agent may undo their own save for 10 minutes from the message that confirms it, through
the revert path: conflict-checked, and audited as an undo."""

from datetime import timedelta

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from tests.conftest import CONSUMER_REF

EDIT = reverse("consumers:edit", kwargs={"ref": CONSUMER_REF})


def save(client, **changes) -> AuditEntry:
    form = client.get(EDIT).context["form"]
    data = {name: form[name].value() or "" for name in form.fields} | changes
    response = client.post(EDIT, data, follow=True)
    assert "Saved" in response.content.decode()
    return AuditEntry.objects.filter(action="edit", outcome="succeeded").latest("sequence")


def undo(client, entry):
    return client.post(reverse("consumers:undo", args=[entry.pk]), follow=True)


def test_the_confirmation_offers_undo_and_undo_puts_the_old_values_back(agent_client, sandbox):
    form = agent_client.get(EDIT).context["form"]
    data = {name: form[name].value() or "" for name in form.fields} | {"last_name": "Beirne"}
    confirmed = agent_client.post(EDIT, data, follow=True).content.decode()
    entry = AuditEntry.objects.get(action="edit")
    assert reverse("consumers:undo", args=[entry.pk]) in confirmed

    content = undo(agent_client, entry).content.decode()

    assert "Undone: Liam Byrne is back as before your save." in content
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Byrne"
    undone = AuditEntry.objects.get(action="revert")
    assert undone.reverts == entry
    assert (
        undone.reason_text
        == f"Undo by its author of audit entry {entry.sequence}, within 10 minutes of the save"
    )
    assert undone.user is not None
    assert undone.user.username == "agent"


def test_only_the_author_may_undo(agent_client, client, another_agent, sandbox):
    entry = save(agent_client, last_name="Beirne")
    client.force_login(another_agent)

    content = undo(client, entry).content.decode()

    assert "Only the agent who made a save can undo it" in content
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Beirne"


def test_after_ten_minutes_undo_is_refused(agent_client, sandbox, monkeypatch):
    entry = save(agent_client, last_name="Beirne")
    # As if the 10 minutes were over (the log's times are append-only, not to be moved back).
    monkeypatch.setattr("consumers.pushes.UNDO_WINDOW", timedelta(0))

    content = undo(agent_client, entry).content.decode()

    assert "The 10 minutes to undo this save are over" in content
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Beirne"


def test_undo_is_refused_when_the_field_changed_again_in_cdp(agent_client, sandbox):
    entry = save(agent_client, last_name="Beirne")
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")

    content = undo(agent_client, entry).content.decode()

    assert "Last name was changed again since this change" in content
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Byrne-Walsh"


def test_a_save_is_undone_once(agent_client, sandbox):
    entry = save(agent_client, last_name="Beirne")
    undo(agent_client, entry)

    content = undo(agent_client, entry).content.decode()

    assert "Already reverted" in content


@pytest.mark.parametrize("method", ["get"])
def test_undo_changes_nothing_on_get(agent_client, method, sandbox):
    entry = save(agent_client, last_name="Beirne")

    assert (
        getattr(agent_client, method)(reverse("consumers:undo", args=[entry.pk])).status_code == 405
    )
