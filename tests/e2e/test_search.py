"""The search box on every page: "/" jumps to it, a unique match opens, several are listed."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import CONSUMER_REF, GUEST_REF
from tests.e2e.test_edit_flow import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_slash_focuses_the_search_box_and_a_booking_reference_opens_its_order(page, agent):
    sign_in(page, "agent", "agent-password")
    page.goto(f"/consumers/{CONSUMER_REF}/")

    page.keyboard.press("/")
    search = page.get_by_label("Find a consumer, order or guest")
    expect(search).to_be_focused()
    page.keyboard.type("B94TXY-1")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Order B94TXY-1")).to_be_visible()


def test_a_name_shared_by_several_consumers_lists_them_and_a_guest_ref_opens_its_consumer(
    page, agent
):
    sign_in(page, "agent", "agent-password")
    search = page.get_by_label("Find a consumer, order or guest")
    search.fill("B94TXY-1")
    search.press("Enter")  # caches the order's consumers

    search.fill("byrne")
    search.press("Enter")
    expect(page.get_by_role("heading", name="3 matching consumers")).to_be_visible()
    expect(page.get_by_role("link", name="Miss Saoirse Byrne")).to_be_visible()
    expect(search).to_have_value("byrne")

    search.fill(GUEST_REF)
    search.press("Enter")
    expect(page).to_have_url(re.compile(f"/consumers/{CONSUMER_REF}/$"))
    expect(page.get_by_role("heading", name="Mr Liam Byrne")).to_be_visible()


def test_typing_a_slash_in_a_field_types_it(page, agent):
    sign_in(page, "agent", "agent-password")
    page.goto(f"/consumers/{CONSUMER_REF}/edit/")
    reason = page.get_by_label("Reason")

    reason.click()
    page.keyboard.type("called 27/11")

    expect(reason).to_have_value("called 27/11")
    expect(reason).to_be_focused()


def test_the_agents_recent_consumers_are_on_the_home_page(page, agent):
    sign_in(page, "agent", "agent-password")
    page.goto(f"/consumers/{CONSUMER_REF}/")
    page.goto("/")

    recent = page.get_by_test_id("recently-viewed")
    expect(recent.get_by_role("link", name="Mr Liam Byrne")).to_be_visible()
