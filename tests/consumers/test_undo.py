"""An agent may undo their own save for 10 minutes from the message that confirms it, through
the revert path: conflict-checked, and audited as an undo."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from audit.models import AuditEntry
from cdp_sandbox.server import Fault
from consumers import pushes
from consumers.models import Push
from dashboard.services import dashboard_figures
from tests.conftest import CONSUMER_REF, run_worker

EDIT = reverse("consumers:edit", kwargs={"ref": CONSUMER_REF})


def save(client, **changes) -> AuditEntry:
    form = client.get(EDIT).context["form"]
    data = {name: form[name].value() or "" for name in form.fields} | changes
    response = client.post(EDIT, data, follow=True)
    assert "Saved" in response.content.decode()
    return AuditEntry.objects.filter(action="edit", outcome="succeeded").latest("sequence")


def undo(client, entry):
    return client.post(reverse("consumers:undo", args=[entry.pk]), follow=True)


@pytest.fixture
def supervisor_client(supervisor) -> Client:
    client = Client()
    client.force_login(supervisor)
    return client


def test_the_confirmation_offers_undo_and_undo_puts_the_old_values_back(agent_client, sandbox):
    form = agent_client.get(EDIT).context["form"]
    data = {name: form[name].value() or "" for name in form.fields} | {"last_name": "Beirne"}
    confirmed = agent_client.post(EDIT, data, follow=True).content.decode()
    entry = AuditEntry.objects.get(action="edit")
    assert reverse("consumers:undo", args=[entry.pk]) in confirmed

    content = undo(agent_client, entry).content.decode()

    assert "Undone: Liam Byrne is back as before your save." in content
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Byrne"
    undone = AuditEntry.objects.get(action="undo")
    assert undone.outcome == "succeeded"
    assert undone.get_action_display() == "Undo"
    assert not AuditEntry.objects.filter(action="revert").exists()
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

    assert "Already undone, by audit entry" in content


def test_an_undo_reads_as_an_undo_in_the_audit_log_and_on_its_pages(
    agent_client, supervisor_client, sandbox
):
    entry = save(agent_client, last_name="Beirne")
    undo(agent_client, entry)
    undone = AuditEntry.objects.get(reverts=entry)

    listed = supervisor_client.get(reverse("audit:list"), {"action": "undo"}).context["entries"]
    assert [(row["sequence"], row["action"]) for row in listed] == [(undone.sequence, "Undo")]
    saves = supervisor_client.get(reverse("audit:list"), {"action": "saves"}).context["entries"]
    assert {row["action"] for row in saves} == {"Edit", "Undo"}
    page = supervisor_client.get(reverse("audit:detail", args=[undone.pk])).content.decode()
    assert f"Audit entry {undone.sequence}: Undo" in page
    assert "Undoes" in page
    page = supervisor_client.get(reverse("audit:detail", args=[entry.pk])).content.decode()
    assert f"entry {undone.sequence}</a> (undo, Succeeded, agent)" in page


def test_a_supervisor_may_revert_an_undo(agent_client, sandbox):
    entry = save(agent_client, last_name="Beirne")
    undo(agent_client, entry)
    undone = AuditEntry.objects.get(action="undo")

    assert undone.is_revertible
    assert pushes.revert_refusal(entry=undone) == ""


def test_an_undo_counts_as_a_save_on_the_dashboard(agent_client, sandbox):
    entry = save(agent_client, last_name="Beirne")
    undo(agent_client, entry)
    today = entry.action_time.date()

    figures = dashboard_figures(date_from=today, date_to=today)

    assert figures.rates["total"] == 2
    assert figures.rates["succeeded"] == 2


def test_an_undo_cdp_could_not_take_is_queued_and_audited_as_an_undo_when_it_lands(
    agent_client, sandbox, settings
):
    settings.PUSH_RETRY_DELAY = settings.PUSH_RETRY_DELAY_MAX = 0
    entry = save(agent_client, last_name="Beirne")
    path = f"/v2/orderConsumers/{CONSUMER_REF}"
    sandbox.inject(Fault(method="POST", path=path, status=503, times=None))

    undo(agent_client, entry)
    sandbox.clear_faults()
    run_worker()

    assert Push.objects.get(reverts_id=entry.pk).status == Push.Status.SUCCEEDED
    queued, landed = AuditEntry.objects.filter(reverts=entry).order_by("sequence")
    assert (queued.action, queued.outcome) == ("undo", "pending")
    assert (landed.action, landed.outcome) == ("undo", "succeeded")
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Byrne"


def test_the_chain_with_an_undo_verifies(agent_client, sandbox):
    entry = save(agent_client, last_name="Beirne")
    undo(agent_client, entry)
    out = io.StringIO()

    call_command("verify_audit", stdout=out)

    assert "Audit log verified: " in out.getvalue()


@pytest.mark.parametrize("method", ["get"])
def test_undo_changes_nothing_on_get(agent_client, method, sandbox):
    entry = save(agent_client, last_name="Beirne")

    assert (
        getattr(agent_client, method)(reverse("consumers:undo", args=[entry.pk])).status_code == 405
    )
