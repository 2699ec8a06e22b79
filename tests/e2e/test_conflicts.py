"""Two agents edit a consumer in two browsers: the second save meets a conflict, no overwrite."""

import pytest
from playwright.sync_api import expect

from tests.conftest import CONSUMER_REF
from tests.e2e.test_edit_flow import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_second_of_two_agents_gets_the_conflict_page_and_can_re_apply(
    new_page, agent, supervisor, sandbox
):
    first, second = new_page(), new_page()
    sign_in(first, "agent", "agent-password")
    sign_in(second, "supervisor", "supervisor-password")
    first.goto(f"/consumers/{CONSUMER_REF}/edit/")
    second.goto(f"/consumers/{CONSUMER_REF}/edit/")

    first.get_by_label("Last name").fill("Beirne")
    first.get_by_role("button", name="Save").click()
    expect(first.get_by_role("status")).to_contain_text("Saved Liam Beirne to CDP.")

    second.get_by_label("First name").fill("William")
    second.get_by_role("button", name="Save").click()

    expect(second.get_by_role("heading", name="changed in CDP while you edited")).to_be_visible()
    table = second.get_by_test_id("conflict-table")
    expect(table.get_by_role("row", name="Last name")).to_contain_text("Beirne")
    expect(table.get_by_role("row", name="First name")).to_contain_text("William")
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Beirne"
    assert sandbox.consumer(CONSUMER_REF)["firstName"] == "Liam"

    second.get_by_role("button", name="Re-apply my change to CDP's version").click()

    expect(second.get_by_role("status")).to_contain_text("Saved William Beirne to CDP.")
    assert (
        sandbox.consumer(CONSUMER_REF)["firstName"],
        sandbox.consumer(CONSUMER_REF)["lastName"],
    ) == (
        "William",
        "Beirne",
    )
