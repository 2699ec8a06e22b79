"""An agent signs in, looks a consumer up, corrects the last name, saves and sees it saved."""

import pytest
from playwright.sync_api import expect

from tests.conftest import CONSUMER_REF
from tests.e2e.signing_in import sign_in

__all__ = ["sign_in"]  # the other browser tests sign in with it from here

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_agent_corrects_a_last_name_and_sees_it_saved_and_audited(page, agent, sandbox):
    sign_in(page, "agent", "agent-password")
    expect(page.get_by_role("heading", name="Find an order consumer")).to_be_visible()

    page.get_by_label("Order ref or booking reference").check()
    page.get_by_label("Search").fill("B94TXY-1")
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("heading", name="Order B94TXY-1")).to_be_visible()

    page.get_by_role("link", name="Mr Liam Byrne").click()
    expect(page.get_by_role("heading", name="Mr Liam Byrne")).to_be_visible()
    page.get_by_role("link", name="Edit").click()

    page.get_by_label("Last name").fill("Beirne")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status")).to_contain_text("Saved Liam Beirne to CDP.")
    expect(page.get_by_test_id("last-name")).to_have_text("Beirne")
    history = page.get_by_test_id("history")
    expect(history).to_contain_text("Last name")
    expect(history.locator(".diff-old")).to_have_text("Byrne")
    expect(history.locator(".diff-new")).to_have_text("Beirne")
    expect(history).to_contain_text("Succeeded")
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Beirne"
    assert sandbox.consumer(CONSUMER_REF)["emails"] == ["liam.byrne@example.com"]


def test_cdps_refusal_is_shown_in_the_form_with_the_input_kept(page, agent, sandbox):
    sandbox.config.max_string_length = 10
    sign_in(page, "agent", "agent-password")
    page.goto(f"/consumers/{CONSUMER_REF}/edit/")

    page.get_by_label("Last name").fill("Byrne-Featherstonehaugh")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("alert")).to_contain_text("lastName: size must be between 0 and 10.")
    expect(page.get_by_label("Last name")).to_have_value("Byrne-Featherstonehaugh")
