"""Destructive actions ask first, in a real browser: cancelling a queued edit, discarding a
conflict, reverting a change; and an agent retries or cancels their own queued edit."""

import pytest
from playwright.sync_api import expect

from audit.models import AuditEntry
from cdp_sandbox.server import Fault
from consumers.models import Push
from tests.conftest import CONSUMER_REF
from tests.e2e.test_edit_flow import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CONSUMER_PATH = f"/v2/orderConsumers/{CONSUMER_REF}"


def save_last_name(page, name: str) -> None:
    page.goto(f"/consumers/{CONSUMER_REF}/edit/")
    page.get_by_label("Last name").fill(name)
    page.get_by_role("button", name="Save").click()


def test_an_agent_retries_and_cancels_their_own_queued_edit_after_seeing_what_it_drops(
    page, agent, sandbox, settings
):
    settings.PUSH_RETRY_DELAY = settings.PUSH_RETRY_DELAY_MAX = 3600
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, status=503, times=None))
    sign_in(page, "agent", "agent-password")
    save_last_name(page, "Beirne")

    queued = page.get_by_role("alert").filter(has_text="your edit is queued")
    expect(queued).to_contain_text("will be sent automatically")
    pending = page.get_by_test_id("pushes")
    expect(pending).to_contain_text("Beirne")

    pending.get_by_role("button", name="Retry now").click()
    expect(page.get_by_role("status")).to_contain_text("The worker will try it now.")

    page.get_by_test_id("pushes").get_by_role("link", name="Cancel…").click()
    expect(page.get_by_role("heading", name="Cancel the queued edit")).to_be_visible()
    expect(page.get_by_test_id("change-table")).to_contain_text("Beirne")
    assert Push.objects.get().status == Push.Status.PENDING  # looking changes nothing
    page.get_by_role("link", name="Keep it queued").click()
    expect(page.get_by_test_id("pushes")).to_contain_text("Beirne")

    page.get_by_test_id("pushes").get_by_role("link", name="Cancel…").click()
    page.get_by_role("button", name="Cancel the edit").click()

    expect(page.get_by_role("status")).to_contain_text("Cancelled: the change will not be sent.")
    expect(page.get_by_test_id("pushes")).to_have_count(0)
    assert Push.objects.get().status == Push.Status.CANCELLED


def test_discarding_a_conflict_shows_the_change_that_will_be_lost_first(page, agent, sandbox):
    sign_in(page, "agent", "agent-password")
    page.goto(f"/consumers/{CONSUMER_REF}/edit/")
    page.get_by_label("First name").fill("William")
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="changed in CDP while you edited")).to_be_visible()

    page.get_by_role("link", name="Discard my change…").click()

    table = page.get_by_test_id("change-table")
    expect(table.get_by_role("row", name="First name")).to_contain_text("William")
    expect(table.get_by_role("row", name="First name")).to_contain_text("Liam")
    page.get_by_role("button", name="Discard my change").click()
    expect(page.get_by_role("status")).to_contain_text("Your change was discarded")
    assert sandbox.consumer(CONSUMER_REF)["firstName"] == "Liam"


def test_a_revert_shows_the_values_it_will_send_and_then_is_offered_no_more(
    new_page, agent, supervisor, sandbox
):
    agent_page, page = new_page(), new_page()
    sign_in(agent_page, "agent", "agent-password")
    save_last_name(agent_page, "Beirne")
    expect(agent_page.get_by_role("status")).to_contain_text("Saved Liam Beirne to CDP.")
    sign_in(page, "supervisor", "supervisor-password")
    entry = AuditEntry.objects.get(action=AuditEntry.Action.EDIT)
    entry_url = f"/audit/{entry.pk}/"
    page.goto("/audit/")
    page.get_by_role("link", name=f"Entry {entry.sequence}").click()

    page.get_by_role("link", name="Revert…").click()

    preview = page.get_by_test_id("revert-preview")
    expect(preview.get_by_role("row", name="Last name")).to_contain_text("Beirne → Byrne")
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Beirne"  # nothing sent yet
    page.get_by_label("Reason for the revert").fill("wrong traveller")
    page.get_by_role("button", name="Revert", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Reverted: CDP holds the old values again")
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Byrne"

    page.goto(entry_url)
    expect(page.get_by_test_id("revert-refusal")).to_contain_text("Already reverted")
    expect(page.get_by_role("link", name="Revert…")).to_have_count(0)
