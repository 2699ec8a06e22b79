"""The search box finds what agents type: names without accents or with another apostrophe, a
booking reference in lower case or without its suffix, a title and a name, a phone number, a
loyalty id; and says what it tried when nothing matches."""

import pytest
from playwright.sync_api import expect

from tests.conftest import ORDER_REF
from tests.e2e.test_edit_flow import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

QH7RTE_ORDER = "QH7RTE-1"  # the Fernández family
DU4GHK_ORDER = "DU4GHK-1"  # Noah O'Sullivan and Sir Edward Ashworth


def find(page, query: str) -> None:
    search = page.get_by_label("Find a consumer, order or guest")
    search.fill(query)
    search.press("Enter")


def test_each_kind_of_query_finds_its_record(page, agent):
    sign_in(page, "agent", "agent-password")
    find(page, QH7RTE_ORDER)
    find(page, DU4GHK_ORDER)  # both orders' travellers are cached now

    cases = [
        ("fernandez", "3 matching consumers"),
        ("Lucia Fernandez", "Mrs Lucía Fernández"),
        ("O’Sullivan", "Mr Noah O'Sullivan"),
        ("osullivan", "Mr Noah O'Sullivan"),
        ("b94txy-1", "Order B94TXY-1"),
        ("k2lmqa", "Order K2LMQA-1"),
        ("Mrs Byrne", "Mrs Aoife Byrne"),
        ("+353 1 555 1004", "Order ZX81PD-1"),  # not cached: the guest's order
        ("FF900011", "Sir Edward Ashworth"),
    ]
    for query, heading in cases:
        find(page, query)
        expect(page.get_by_role("heading", name=heading)).to_be_visible()

    find(page, "ZZ99ZZ-1")
    expect(page.get_by_text("Tried: cached orders by booking reference")).to_be_visible()


def test_a_lower_case_booking_reference_opens_the_order_from_the_start_page(page, agent):
    sign_in(page, "agent", "agent-password")
    find(page, "b94txy")

    expect(page).to_have_url(f"/orders/{ORDER_REF}/")
