"""The conflict pages: the three versions, re-applying in one click, and discarding (asked first)
by the agent who made the edit or a supervisor only."""

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from cdp_sandbox import seed
from consumers.models import Push
from tests.conftest import CONSUMER_REF, cdp_path, edit_url, form_data, update_method

# Run for each API version CDP speaks (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("api_version")

CONSUMER_PATH = cdp_path("orderConsumers", CONSUMER_REF)


def test_a_conflict_shows_three_versions_and_re_applies_the_edit_in_one_click(
    agent_client, sandbox
):
    data = form_data(agent_client, first_name="William")
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")

    response = agent_client.post(edit_url(), data, follow=True)

    content = response.content.decode()
    conflict = Push.objects.get(status=Push.Status.CONFLICT)
    assert response.redirect_chain[-1][0] == reverse(
        "consumers:conflict", args=[CONSUMER_REF, conflict.pk]
    )
    assert "Someone changed this consumer in CDP after you opened it" in content
    rows = {row["label"]: row for row in response.context["rows"]}
    assert (
        rows["First name"]["loaded"],
        rows["First name"]["now"],
        rows["First name"]["edited"],
    ) == ("Liam", "Liam", "William")
    assert (rows["Last name"]["loaded"], rows["Last name"]["now"]) == ("Byrne", "Byrne-Walsh")
    assert sandbox.requests_to(update_method(), CONSUMER_PATH) == []

    response = agent_client.post(
        reverse("consumers:conflict_reapply", args=[CONSUMER_REF, conflict.pk]), follow=True
    )

    assert "Saved William Byrne-Walsh to CDP." in response.content.decode()
    after = sandbox.consumer(CONSUMER_REF)
    assert (after["firstName"], after["lastName"]) == ("William", "Byrne-Walsh")
    assert [e.outcome for e in AuditEntry.objects.filter(action="edit").order_by("sequence")] == [
        "conflict",
        "succeeded",
    ]


def test_discarding_a_conflict_first_shows_the_change_that_will_be_lost(agent_client, sandbox):
    data = form_data(agent_client, first_name="William")
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")
    agent_client.post(edit_url(), data)
    conflict = Push.objects.get(status=Push.Status.CONFLICT)
    url = reverse("consumers:conflict_discard", args=[CONSUMER_REF, conflict.pk])
    conflict_page = agent_client.get(
        reverse("consumers:conflict", args=[CONSUMER_REF, conflict.pk])
    )

    confirm = agent_client.get(url)

    content = confirm.content.decode()
    assert f'href="{url}"' in conflict_page.content.decode()
    assert "The change that will be lost" in content
    assert '<span class="diff-old">William</span></td><td>Liam</td>' in content
    assert f'<form method="post" action="{url}"' in content
    conflict.refresh_from_db()
    assert conflict.resolution == ""  # a GET changes nothing
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.DISCARD).exists()


def test_a_conflict_can_be_discarded(agent_client, sandbox):
    data = form_data(agent_client, first_name="William")
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")
    agent_client.post(edit_url(), data)
    conflict = Push.objects.get(status=Push.Status.CONFLICT)

    response = agent_client.post(
        reverse("consumers:conflict_discard", args=[CONSUMER_REF, conflict.pk]), follow=True
    )

    assert "Your change was discarded; CDP keeps its version." in response.content.decode()
    assert sandbox.consumer(CONSUMER_REF)["firstName"] == "Liam"
    assert AuditEntry.objects.filter(action=AuditEntry.Action.DISCARD).exists()
    assert "Changes not in CDP yet" not in response.content.decode()


def a_conflict(agent_client, sandbox) -> Push:
    data = form_data(agent_client, first_name="William")
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")
    agent_client.post(edit_url(), data)
    return Push.objects.get(status=Push.Status.CONFLICT)


def test_another_agent_can_neither_open_nor_resolve_an_agents_conflict(
    agent_client, client, another_agent, sandbox
):
    conflict = a_conflict(agent_client, sandbox)
    client.force_login(another_agent)
    page = reverse("consumers:conflict", args=[CONSUMER_REF, conflict.pk])
    discard = reverse("consumers:conflict_discard", args=[CONSUMER_REF, conflict.pk])
    reapply = reverse("consumers:conflict_reapply", args=[CONSUMER_REF, conflict.pk])

    assert client.get(page).status_code == 404
    assert client.get(discard).status_code == 404
    assert client.post(discard).status_code == 404
    assert client.post(reapply).status_code == 404
    conflict.refresh_from_db()
    assert conflict.resolution == ""
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.DISCARD).exists()
    assert sandbox.requests_to(update_method(), CONSUMER_PATH) == []
    detail = client.get(reverse("consumers:detail", kwargs={"ref": CONSUMER_REF}))
    assert page not in detail.content.decode()  # no link to a page they may not open


def test_a_supervisor_resolves_an_agents_conflict_under_their_own_name(
    agent_client, client, supervisor, sandbox
):
    conflict = a_conflict(agent_client, sandbox)
    client.force_login(supervisor)

    client.post(reverse("consumers:conflict_discard", args=[CONSUMER_REF, conflict.pk]))

    [discard] = AuditEntry.objects.filter(action=AuditEntry.Action.DISCARD)
    assert discard.username == "supervisor"


def test_a_conflict_on_the_order_items_shows_them_as_words_with_their_refs(
    agent_client, sandbox, nothing_needs_approval
):
    kept = seed.make_ref("order-item", 0)
    data = form_data(agent_client, order_item_refs=[kept])  # the return leg unticked
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")

    content = agent_client.post(edit_url(), data, follow=True).content.decode()

    assert "Flight EI150 DUB→LHR · DUB to LHR · B94TXY-1-1 · CONFIRMED" in content
    assert "Flight EI151 LHR→DUB" in content  # in the versions before the change
    assert kept in content
