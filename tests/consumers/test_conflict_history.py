"""A resolved conflict reads as history: what became of the edit, by whom, when, and the three
versions as they were at the time, with no buttons left."""

import re
from html import unescape

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from cdp_sandbox.server import Fault
from consumers import pushes
from consumers.models import Push
from tests.conftest import CONSUMER_REF, cdp_path

# Run for each API version CDP speaks (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("api_version")

CONSUMER_PATH = cdp_path("orderConsumers", CONSUMER_REF)
EDIT = reverse("consumers:edit", kwargs={"ref": CONSUMER_REF})


def a_conflict(client, sandbox) -> Push:
    """The agent changes the first name while someone changes the last name in CDP."""
    form = client.get(EDIT).context["form"]
    data = {name: form[name].value() or "" for name in form.fields} | {"first_name": "William"}
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")
    client.post(EDIT, data)
    return Push.objects.get(status=Push.Status.CONFLICT)


def conflict_page(client, conflict):
    return client.get(reverse("consumers:conflict", args=[CONSUMER_REF, conflict.pk]))


def main(response) -> str:
    return response.content.decode().partition('id="main"')[2].partition("</main>")[0]


def words(html: str) -> str:
    """The text of some HTML as read: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_the_conflict_keeps_cdps_version_as_it_was_when_it_happened(agent_client, sandbox):
    conflict = a_conflict(agent_client, sandbox)

    assert conflict.cdp_values["last_name"] == "Byrne-Walsh"
    assert conflict.cdp_values["first_name"] == "Liam"
    assert conflict.cdp_modified_at is not None


def test_a_re_applied_conflict_reads_as_history_with_the_versions_then(agent_client, sandbox):
    conflict = a_conflict(agent_client, sandbox)
    # Followed, so the confirmation (with its Undo) is shown there, not on the history below.
    agent_client.post(
        reverse("consumers:conflict_reapply", args=[CONSUMER_REF, conflict.pk]), follow=True
    )
    sandbox.change_consumer(CONSUMER_REF, lastName="Walsh")  # CDP moves on afterwards
    sandbox.requests.clear()

    response = conflict_page(agent_client, conflict)

    content = main(response)
    conflict.refresh_from_db()
    saved = AuditEntry.objects.filter(action="edit", outcome="succeeded").get()
    assert conflict.resolved_by is not None
    assert (conflict.resolution, conflict.resolved_by.username) == ("reapplied", "agent")
    assert conflict.resolution_entry_id == saved.pk
    when = r"on \d{4}-\d\d-\d\d \d\d:\d\d UTC"
    assert re.search(rf"Re-applied to CDP's version by agent {when}", words(content))
    rows = {row["label"]: row for row in response.context["rows"]}
    assert (rows["Last name"]["loaded"], rows["Last name"]["now"]) == ("Byrne", "Byrne-Walsh")
    assert rows["First name"]["edited"] == "William"
    assert "CDP's version then" in words(content)
    assert "Walsh<" not in content.replace("Byrne-Walsh", "")  # not today's CDP version
    assert sandbox.requests_to("GET", CONSUMER_PATH) == []  # history needs no CDP call
    assert "<form" not in content
    assert "Re-apply my change" not in content
    assert "Discard my change" not in content
    assert "The resulting save succeeded" in words(content)


def test_a_discarded_conflict_names_who_discarded_it(agent_client, client, supervisor, sandbox):
    conflict = a_conflict(agent_client, sandbox)
    client.force_login(supervisor)
    client.post(reverse("consumers:conflict_discard", args=[CONSUMER_REF, conflict.pk]))

    response = conflict_page(agent_client, conflict)

    content = main(response)
    conflict.refresh_from_db()
    discard = AuditEntry.objects.get(action=AuditEntry.Action.DISCARD)
    assert conflict.resolved_by is not None
    assert (conflict.resolution, conflict.resolved_by.username) == ("discarded", "supervisor")
    assert conflict.resolution_entry_id == discard.pk
    assert re.search(r"Discarded by supervisor on \d{4}-\d\d-\d\d \d\d:\d\d UTC", words(content))
    assert "CDP kept its version" in words(content)
    assert "<form" not in content


def test_a_supervisor_sees_the_link_to_the_resulting_audit_entry(
    agent_client, client, supervisor, sandbox
):
    conflict = a_conflict(agent_client, sandbox)
    agent_client.post(reverse("consumers:conflict_reapply", args=[CONSUMER_REF, conflict.pk]))
    saved = AuditEntry.objects.filter(action="edit", outcome="succeeded").get()
    client.force_login(supervisor)

    content = main(conflict_page(client, conflict))

    assert f'href="{reverse("audit:detail", args=[saved.pk])}"' in content


def test_a_re_apply_that_cannot_read_cdp_leaves_the_conflict_open(agent, agent_client, sandbox):
    conflict = a_conflict(agent_client, sandbox)
    sandbox.inject(Fault(method="GET", path=CONSUMER_PATH, status=503, times=None))

    with pytest.raises(pushes.CDPError):
        pushes.conflict_reapply(push=conflict, user=agent, meta=pushes.RequestMeta())

    conflict.refresh_from_db()
    assert (conflict.resolution, conflict.resolved_by, conflict.resolved_at) == ("", None, None)


def test_a_re_apply_whose_link_cdp_no_longer_knows_leaves_the_conflict_open(
    agent, agent_client, sandbox
):
    conflict = a_conflict(agent_client, sandbox)
    unknown = "00000000-0000-0000-0000-000000000000"
    Push.objects.filter(pk=conflict.pk).update(changes={"guest_ref": ["", unknown]})
    conflict.refresh_from_db()

    with pytest.raises(pushes.ValidationError):
        pushes.conflict_reapply(push=conflict, user=agent, meta=pushes.RequestMeta())

    conflict.refresh_from_db()
    assert conflict.resolution == ""
