"""An agent undoes their own save from the message that confirms it."""

import pytest
from playwright.sync_api import expect

from tests.conftest import CONSUMER_REF
from tests.e2e.conftest import accessibility_violations
from tests.e2e.test_edit_flow import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_undo_from_the_confirmation_puts_the_old_name_back(page, agent, sandbox, theme):
    page.context.add_init_script(f"window.localStorage.setItem('theme', '{theme}')")
    sign_in(page, "agent", "agent-password")
    page.goto(f"/consumers/{CONSUMER_REF}/edit/")
    page.get_by_label("Last name").fill("Beirne")
    page.get_by_label("Reason").fill("Name as on passport")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").first).to_contain_text("Saved Liam Beirne to CDP.")
    assert accessibility_violations(page) == []

    page.get_by_test_id("undo").click()

    expect(page.get_by_role("status").first).to_contain_text("Undone: Liam Byrne is back")
    expect(page.get_by_test_id("last-name")).to_have_text("Byrne")
    expect(page.get_by_test_id("history")).to_contain_text("Undo by its author")
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Byrne"
