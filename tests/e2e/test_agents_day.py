"""An agent's day at the keyboard: order items as a checkbox list, the guest picker, the title
list with the common titles first, Save always in sight, and the shortcuts / e Ctrl+Enter j k
Esc ?, each driven by the keyboard alone in real Chromium."""

import pytest
from playwright.sync_api import expect

from cdp_sandbox import seed
from tests.conftest import CONSUMER_REF, ORDER_REF
from tests.e2e.conftest import accessibility_violations
from tests.e2e.test_edit_flow import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SECOND_ITEM = seed.make_ref("order-item", 1)  # order 0's LHR to DUB leg
AOIFE_GUEST = seed.make_ref("guest", 1)


def tab_to(page, locator, *, limit: int = 60) -> None:
    """Press Tab until `locator` has the focus, as a keyboard user would."""
    for _ in range(limit):
        if locator.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {locator}")


def test_the_order_items_are_ticked_and_unticked_with_the_keyboard(
    page, agent, sandbox, nothing_needs_approval
):
    sign_in(page, "agent", "agent-password")
    page.goto(f"/consumers/{CONSUMER_REF}/edit/")

    second = page.get_by_role("checkbox", name="Flight EI151 LHR→DUB")
    expect(second).to_be_checked()
    expect(page.get_by_role("group", name="Order items")).to_contain_text(SECOND_ITEM)
    tab_to(page, second)
    page.keyboard.press("Space")
    expect(second).not_to_be_checked()
    page.keyboard.press("Control+Enter")

    expect(page.get_by_role("status").first).to_contain_text("Saved Liam Byrne to CDP.")
    assert sandbox.consumer(CONSUMER_REF)["orderItems"]["items"][0]["href"].endswith(
        seed.make_ref("order-item", 0)
    )
    assert len(sandbox.consumer(CONSUMER_REF)["orderItems"]["items"]) == 1
    items = page.get_by_test_id("order-item")
    expect(items).to_have_count(1)
    expect(items).to_contain_text("Flight EI150 DUB→LHR · DUB to LHR · B94TXY-1-1 · CONFIRMED")


def test_the_guest_picker_finds_and_picks_a_guest_with_the_keyboard_alone(
    page, agent, sandbox, nothing_needs_approval
):
    sign_in(page, "agent", "agent-password")
    page.goto(f"/consumers/{CONSUMER_REF}/edit/")
    guest = page.get_by_role("combobox", name="Guest")
    expect(page.get_by_test_id("guest-current")).to_have_text("Liam Byrne · liam.byrne@example.com")

    tab_to(page, guest)
    page.keyboard.press("Control+a")
    page.keyboard.type("byrne")
    options = page.get_by_test_id("guest-options").get_by_role("option")
    expect(options).to_have_count(3)
    expect(guest).to_have_attribute("aria-expanded", "true")
    assert accessibility_violations(page) == []
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    expect(options.nth(1)).to_contain_text("Aoife Byrne · aoife.byrne@example.com")
    page.keyboard.press("Enter")

    expect(guest).to_have_value(AOIFE_GUEST)
    expect(guest).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_test_id("guest-hint")).to_have_text(
        "Guest: Aoife Byrne · aoife.byrne@example.com"
    )
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("status").first).to_contain_text("Saved")
    assert sandbox.consumer(CONSUMER_REF)["guest"]["href"].endswith(AOIFE_GUEST)
    # One search of CDP's guests for the whole word, not one per key typed.
    assert len(sandbox.requests_to("GET", "/v2/guests")) <= 2


def test_escape_closes_the_guest_list_without_leaving_the_page(page, agent):
    sign_in(page, "agent", "agent-password")
    page.goto(f"/consumers/{CONSUMER_REF}/edit/")
    guest = page.get_by_role("combobox", name="Guest")
    guest.fill("byrne")
    expect(page.get_by_test_id("guest-options").get_by_role("option")).to_have_count(3)

    page.keyboard.press("Escape")

    expect(guest).to_have_attribute("aria-expanded", "false")
    expect(page).to_have_url(f"/consumers/{CONSUMER_REF}/edit/")


def test_the_common_titles_come_first_and_typing_selects(page, agent):
    sign_in(page, "agent", "agent-password")
    page.goto(f"/consumers/{CONSUMER_REF}/edit/")
    title = page.get_by_label("Title")

    labels = title.locator("option").all_text_contents()
    assert labels[:7] == ["—", "Mr", "Mrs", "Ms", "Miss", "Mx", "Dr"]
    tab_to(page, title)
    page.keyboard.type("mrs")
    expect(title).to_have_value("Mrs")


def test_save_and_cancel_stay_in_sight_on_a_laptop_screen(page, agent):
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, "agent", "agent-password")
    page.goto(f"/consumers/{CONSUMER_REF}/edit/")

    for name in ("Save", "Cancel"):
        box = page.get_by_role("button" if name == "Save" else "link", name=name, exact=True)
        expect(box).to_be_in_viewport()
    page.get_by_label("First name").focus()
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_in_viewport()


def test_the_shortcuts_move_between_travellers_edit_save_and_go_back(page, agent, sandbox):
    sign_in(page, "agent", "agent-password")
    page.goto(f"/orders/{ORDER_REF}/")  # lists the booking's travellers, in CDP's order
    page.goto(f"/consumers/{CONSUMER_REF}/")
    expect(page.get_by_role("heading", name="Mr Liam Byrne")).to_be_visible()

    page.keyboard.press("?")
    help_dialog = page.get_by_test_id("shortcuts-help")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Next / previous traveller on the booking")
    assert accessibility_violations(page) == []
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()

    page.keyboard.press("j")
    expect(page.get_by_role("heading", name="Mrs Aoife Byrne")).to_be_visible()
    page.keyboard.press("j")
    expect(page.get_by_role("heading", name="Miss Saoirse Byrne")).to_be_visible()
    page.keyboard.press("k")
    expect(page.get_by_role("heading", name="Mrs Aoife Byrne")).to_be_visible()

    page.keyboard.press("e")
    expect(page.get_by_role("heading", name="Edit Mrs Aoife Byrne")).to_be_visible()
    last_name = page.get_by_label("Last name")
    last_name.focus()
    page.keyboard.press("j")  # typed into the field: no shortcut while typing
    page.keyboard.press("Escape")
    expect(page).to_have_url(f"/consumers/{seed.make_ref('consumer', 1)}/edit/")
    expect(last_name).to_have_value("jByrne")
    last_name.fill("Byrne-Walsh")
    page.keyboard.press("Control+Enter")  # the one shortcut that works while typing
    expect(page.get_by_role("status").first).to_contain_text("Saved Aoife Byrne-Walsh to CDP.")

    # After the save, the next traveller on the booking is one key away.
    expect(page.get_by_test_id("next-traveller")).to_contain_text("Miss Saoirse Byrne")
    page.keyboard.press("j")
    expect(page.get_by_role("heading", name="Miss Saoirse Byrne")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("heading", name="Order B94TXY-1")).to_be_visible()


def test_escape_on_the_edit_form_cancels_when_not_typing(page, agent):
    sign_in(page, "agent", "agent-password")
    page.goto(f"/consumers/{CONSUMER_REF}/edit/")
    page.locator("body").focus()

    page.keyboard.press("Escape")

    expect(page).to_have_url(f"/consumers/{CONSUMER_REF}/")


def test_slash_finds_on_a_tablet_too(page, agent):
    page.set_viewport_size({"width": 800, "height": 1100})
    sign_in(page, "agent", "agent-password")
    page.goto(f"/consumers/{CONSUMER_REF}/")

    page.keyboard.press("/")

    search = page.get_by_label("Find a consumer, order or guest")
    expect(search).to_be_focused()
    page.keyboard.type("b94txy-1")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Order B94TXY-1")).to_be_visible()


def test_every_shortcut_is_announced_as_aria_keyshortcuts(page, agent):
    sign_in(page, "agent", "agent-password")
    page.goto(f"/orders/{ORDER_REF}/")
    page.goto(f"/consumers/{CONSUMER_REF}/")
    shortcuts = page.locator("[aria-keyshortcuts]").evaluate_all(
        "elements => elements.map(e => e.getAttribute('aria-keyshortcuts'))"
    )
    assert {"/", "?", "e", "j", "Escape"} <= set(shortcuts)
    page.goto(f"/consumers/{CONSUMER_REF}/edit/")
    assert "Control+Enter Meta+Enter" in page.locator("[aria-keyshortcuts]").evaluate_all(
        "elements => elements.map(e => e.getAttribute('aria-keyshortcuts'))"
    )
