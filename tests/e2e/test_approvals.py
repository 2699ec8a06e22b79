"""Four-eyes approval in two browsers: an agent's guest re-link waits until a supervisor approves
it, and CDP gets it then; when CDP changed meanwhile, the approver meets the conflict instead."""

import pytest
from playwright.sync_api import expect

from cdp.links import ref_from_link
from tests.approvals.conftest import OTHER_GUEST_REF
from tests.conftest import CONSUMER_REF, GUEST_REF
from tests.e2e.conftest import accessibility_violations
from tests.e2e.test_edit_flow import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def guest_in_cdp(sandbox) -> str:
    return ref_from_link(sandbox.consumer(CONSUMER_REF).get("guest")) or ""


def relink_the_guest(page) -> None:
    """As the agent: re-link the consumer to another guest, with a reason, and save."""
    page.goto(f"/consumers/{CONSUMER_REF}/edit/")
    expect(page.get_by_test_id("approval-policy")).to_contain_text(
        "Changing the guest needs a supervisor's approval"
    )
    page.get_by_label("Guest", exact=True).fill(OTHER_GUEST_REF)
    # The guest's hint moves the form down when it comes: wait, so Save is clicked where it is.
    expect(page.get_by_test_id("guest-hint")).to_contain_text("Aoife Byrne")
    page.get_by_label("Reason").fill("The booker called: Aoife is the traveller's profile.")
    page.get_by_role("button", name="Save").click()


def test_a_guest_relink_waits_until_a_supervisor_approves_it_and_then_cdp_gets_it(
    new_page, agent, supervisor, sandbox
):
    agent_page, supervisor_page = new_page(), new_page()
    sign_in(agent_page, "agent", "agent-password")
    sign_in(supervisor_page, "supervisor", "supervisor-password")

    relink_the_guest(agent_page)

    expect(agent_page.get_by_role("alert").first).to_contain_text("Guest: submitted for approval")
    awaiting = agent_page.get_by_test_id("awaiting-approval")
    expect(awaiting).to_contain_text(OTHER_GUEST_REF)
    expect(awaiting).to_contain_text("Asked by agent")
    expect(awaiting).to_contain_text("Aoife is the traveller's profile.")
    assert guest_in_cdp(sandbox) == GUEST_REF

    supervisor_page.goto("/")
    supervisor_page.get_by_test_id("nav-approvals").click()
    expect(supervisor_page.get_by_test_id("nav-approvals")).to_contain_text("1")
    supervisor_page.get_by_role("link", name="Review").click()
    table = supervisor_page.get_by_test_id("approval-table")
    expect(table.get_by_role("row", name="Guest")).to_contain_text(OTHER_GUEST_REF)
    assert accessibility_violations(supervisor_page) == []
    supervisor_page.get_by_role("button", name="Approve and send to CDP").click()

    expect(supervisor_page.get_by_role("status").first).to_contain_text(
        "Approved and saved Liam Byrne to CDP."
    )
    expect(supervisor_page.get_by_test_id("approval-status")).to_contain_text("Approved")
    assert guest_in_cdp(sandbox) == OTHER_GUEST_REF

    # The agent's next page tells them, as of a queued edit that landed: a message and the badge.
    agent_page.goto("/")
    expect(agent_page.get_by_test_id("notification")).to_contain_text(
        "Your change of Guest for Liam Byrne was approved by supervisor and saved to CDP."
    )
    expect(agent_page.get_by_test_id("notification-badge")).to_contain_text("1")
    expect(agent_page.get_by_test_id("nav-my-requests")).to_contain_text("1")
    agent_page.get_by_test_id("nav-my-requests").click()
    expect(agent_page.get_by_test_id("my-requests")).to_contain_text(
        "was approved by supervisor and saved to CDP."
    )


def test_the_approver_meets_a_conflict_when_cdp_changed_after_the_agent_saw_it(
    new_page, agent, supervisor, sandbox
):
    agent_page, supervisor_page = new_page(), new_page()
    sign_in(agent_page, "agent", "agent-password")
    sign_in(supervisor_page, "supervisor", "supervisor-password")
    relink_the_guest(agent_page)
    expect(agent_page.get_by_test_id("awaiting-approval")).to_be_visible()
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")

    supervisor_page.goto("/approvals/")
    supervisor_page.get_by_role("link", name="Review").click()
    expect(supervisor_page.get_by_test_id("changed-since")).to_be_visible()
    table = supervisor_page.get_by_test_id("approval-table")
    expect(table.get_by_role("row", name="Last name")).to_contain_text("Byrne-Walsh")
    supervisor_page.get_by_role("button", name="Approve and send to CDP").click()

    expect(supervisor_page.get_by_role("alert").first).to_contain_text(
        "Approved, but nothing was sent: CDP changed this consumer after agent saw it."
    )
    conflict = supervisor_page.get_by_test_id("conflict-table")
    expect(conflict.get_by_role("row", name="Last name")).to_contain_text("Byrne-Walsh")
    expect(conflict.get_by_role("row", name="Guest")).to_contain_text(OTHER_GUEST_REF)
    assert guest_in_cdp(sandbox) == GUEST_REF

    supervisor_page.get_by_role("button", name="Re-apply my change to CDP's version").click()

    expect(supervisor_page.get_by_role("status").first).to_contain_text("Saved")
    record = sandbox.consumer(CONSUMER_REF)
    assert (guest_in_cdp(sandbox), record["lastName"]) == (OTHER_GUEST_REF, "Byrne-Walsh")
