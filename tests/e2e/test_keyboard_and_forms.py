"""An edit from the keyboard alone, and the form's helps: title case, the guest hint, the
unsaved-changes warning; and the theme switch."""

import re

import pytest
from playwright.sync_api import expect

from cdp_sandbox import seed
from cdp_sandbox.server import Fault
from tests.conftest import CONSUMER_REF
from tests.e2e.test_edit_flow import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ACTIVE_ELEMENT = """() => {
  const element = document.activeElement;
  return (element.labels && element.labels[0] ? element.labels[0].textContent
          : element.textContent || element.value || "").trim();
}"""


def tab_to(page, name: str, limit: int = 40) -> None:
    """Press Tab until the focused element is the one named (its text or its label)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(ACTIVE_ELEMENT).startswith(name):
            return
    raise AssertionError(f"{name!r} cannot be reached with the Tab key")


def focus_ring_of_active_element(page) -> str:
    return page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return s.outlineStyle !== 'none' && s.outlineWidth !== '0px' ? s.outlineStyle"
        " : s.boxShadow; }"
    )


def test_an_agent_corrects_a_consumer_with_the_keyboard_alone(page, agent, sandbox):
    sign_in(page, "agent", "agent-password")
    page.goto(f"/consumers/{CONSUMER_REF}/")

    tab_to(page, "Edit")
    assert focus_ring_of_active_element(page) not in ("", "none")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Edit Mr Liam Byrne")).to_be_visible()

    tab_to(page, "Title")
    page.keyboard.type("Dr")
    tab_to(page, "Last name")
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("o'neill")
    page.keyboard.press("Tab")
    assert page.evaluate(ACTIVE_ELEMENT) == "Use “O'Neill”"
    assert focus_ring_of_active_element(page) not in ("", "none")
    page.keyboard.press("Enter")
    expect(page.get_by_label("Last name")).to_have_value("O'Neill")
    expect(page.get_by_label("Last name")).to_be_focused()
    tab_to(page, "Reason")
    page.keyboard.type("Customer called about the spelling")
    tab_to(page, "Save")
    page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_contain_text("Saved Liam O'Neill to CDP.")
    assert sandbox.consumer(CONSUMER_REF)["title"] == "Dr"
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "O'Neill"


def test_a_name_in_mixed_case_gets_no_suggestion(page, agent):
    sign_in(page, "agent", "agent-password")
    page.goto(f"/consumers/{CONSUMER_REF}/edit/")

    page.get_by_label("Last name").fill("McDonald")
    expect(page.get_by_test_id("title-case-last_name")).to_have_count(0)
    page.get_by_label("Last name").fill("MCDONALD")
    expect(page.get_by_test_id("title-case-last_name")).to_have_text("Use “Mcdonald”")


def test_the_guest_field_shows_who_the_guest_is_as_the_agent_types(page, agent, sandbox):
    other_guest = seed.make_ref("guest", 1)
    sign_in(page, "agent", "agent-password")
    page.goto(f"/consumers/{CONSUMER_REF}/edit/")
    guest = page.get_by_label("Guest", exact=True)
    hint = page.get_by_test_id("guest-hint")
    asked_before = len(sandbox.requests_to("GET", f"/v2/guests/{other_guest}"))

    guest.fill("")
    guest.press_sequentially(other_guest, delay=5)

    expect(hint).to_have_text("Guest: Aoife Byrne · aoife.byrne@example.com")
    # Looked up once, when the agent stopped typing, not once per key.
    assert len(sandbox.requests_to("GET", f"/v2/guests/{other_guest}")) == asked_before + 1
    guest.fill("https://example.com/not/a/guest")
    expect(hint).to_contain_text("is not a CDP link")
    guest.fill("Nobody Atall")  # words are a search of CDP's guests (the picker)
    expect(hint).to_contain_text("CDP has no guest called “Nobody Atall”")
    guest.fill("")
    expect(hint).to_have_text("")


def test_a_guest_cdp_could_not_be_asked_about_is_asked_again_later(page, agent, sandbox):
    other_guest = seed.make_ref("guest", 1)
    sandbox.inject(Fault(path=f"/v2/guests/{other_guest}", status=503, times=None))
    sign_in(page, "agent", "agent-password")
    page.goto(f"/consumers/{CONSUMER_REF}/edit/")
    guest = page.get_by_label("Guest", exact=True)
    hint = page.get_by_test_id("guest-hint")

    guest.fill(other_guest)
    expect(hint).to_contain_text("Could not look the guest up.")
    sandbox.clear_faults()
    guest.fill("")
    guest.fill(other_guest)

    expect(hint).to_have_text("Guest: Aoife Byrne · aoife.byrne@example.com")


def test_leaving_the_edit_page_with_unsaved_changes_asks_first(page, agent):
    sign_in(page, "agent", "agent-password")
    page.goto(f"/consumers/{CONSUMER_REF}/edit/")
    dialogs = []

    def dismiss(dialog):
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.get_by_label("First name").fill("William")
    page.get_by_role("link", name="Cancel").click()

    expect(page.get_by_label("First name")).to_have_value("William")
    assert dialogs == ["beforeunload"]
    expect(page).to_have_url(re.compile("/edit/$"))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved William Byrne to CDP.")
    assert dialogs == ["beforeunload"]


def test_the_dark_theme_is_remembered(page, agent):
    sign_in(page, "agent", "agent-password")
    html = page.locator("html")
    toggle = page.get_by_role("button", name="Dark theme")

    page.get_by_test_id("current-user").click()  # the user menu
    toggle.click()

    expect(html).to_have_attribute("data-bs-theme", "dark")
    expect(page.get_by_test_id("theme-toggle")).to_have_attribute("aria-pressed", "true")
    page.reload()
    expect(html).to_have_attribute("data-bs-theme", "dark")
    page.get_by_test_id("current-user").click()
    toggle.click()
    expect(html).to_have_attribute("data-bs-theme", "light")
    expect(page.get_by_test_id("theme-toggle")).to_have_attribute("aria-pressed", "false")
