"""The order page edits its travellers' titles and names in one form; each is its own conflict-
checked save with its own audit entry, and each row says what became of it."""

import pytest
from playwright.sync_api import expect

from audit.models import AuditEntry
from cdp_sandbox import seed
from tests.conftest import CONSUMER_REF, ORDER_REF
from tests.e2e.conftest import accessibility_violations
from tests.e2e.test_edit_flow import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AOIFE = seed.make_ref("consumer", 1)
SAOIRSE = seed.make_ref("consumer", 2)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_three_travellers_saved_together_with_one_in_conflict(page, agent, sandbox, theme):
    page.context.add_init_script(f"window.localStorage.setItem('theme', '{theme}')")
    sign_in(page, "agent", "agent-password")
    page.goto(f"/orders/{ORDER_REF}/")
    assert accessibility_violations(page) == []

    page.get_by_label("Title of Liam Byrne").select_option("Dr")
    page.get_by_label("Last name of Aoife Byrne").fill("Beirne")
    page.get_by_label("First name of Saoirse Byrne").fill("Sorcha")
    sandbox.change_consumer(SAOIRSE, lastName="Byrne-Walsh")  # someone else, meanwhile
    page.get_by_label("Reason").fill("Name as on passport")
    page.keyboard.press("Control+Enter")

    results = page.get_by_test_id("row-result")
    expect(results.nth(0)).to_have_text("Saved to CDP.")
    expect(results.nth(1)).to_have_text("Saved to CDP.")
    expect(results.nth(2)).to_contain_text("Conflict: someone changed this traveller in CDP")
    expect(results.nth(2).get_by_role("link", name="Compare")).to_be_visible()
    assert accessibility_violations(page) == []
    assert sandbox.consumer(CONSUMER_REF)["title"] == "Dr"
    assert sandbox.consumer(AOIFE)["lastName"] == "Beirne"
    assert sandbox.consumer(SAOIRSE)["firstName"] == "Saoirse"  # nothing overwritten
    saves = AuditEntry.objects.filter(action="edit").order_by("sequence")
    assert [(e.consumer_ref, e.outcome) for e in saves] == [
        (CONSUMER_REF, "succeeded"),
        (AOIFE, "succeeded"),
        (SAOIRSE, "conflict"),
    ]
    assert {e.reason_text for e in saves} == {"Name as on passport"}


def test_apply_this_surname_to_every_traveller_previews_then_saves(page, agent, sandbox):
    sign_in(page, "agent", "agent-password")
    page.goto(f"/orders/{ORDER_REF}/")
    page.goto(f"/consumers/{CONSUMER_REF}/edit/")
    page.get_by_label("Last name").fill("Ó Broin")

    page.get_by_test_id("apply-surname").click()

    expect(page.get_by_test_id("surname-preview")).to_contain_text("Ó Broin")
    expect(page.get_by_test_id("surname-change")).to_have_count(3)
    expect(page.get_by_test_id("surname-change").first).to_have_text("Byrne → Ó Broin")
    assert sandbox.consumer(AOIFE)["lastName"] == "Byrne"  # a preview: nothing sent yet
    page.get_by_role("button", name="Save all").click()
    expect(page.get_by_test_id("row-result")).to_have_text(["Saved to CDP."] * 3)
    assert {sandbox.consumer(ref)["lastName"] for ref in (CONSUMER_REF, AOIFE, SAOIRSE)} == {
        "Ó Broin"
    }
