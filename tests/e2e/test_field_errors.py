"""A field's error, CDP's or the form's, sits on its field, takes the focus, and goes once the
field is mended."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import CONSUMER_REF
from tests.e2e.test_edit_flow import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_cdps_refusal_of_the_last_name_points_at_last_name_and_clears_once_mended(
    page, agent, sandbox
):
    sandbox.config.max_string_length = 10
    sign_in(page, "agent", "agent-password")
    page.goto(f"/consumers/{CONSUMER_REF}/edit/")
    last_name = page.get_by_label("Last name")

    last_name.fill("Byrne-Featherstonehaugh")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("alert").filter(has_text="CDP did not save")).to_contain_text(
        "lastName: size must be between 0 and 10."
    )
    expect(last_name).to_be_focused()
    expect(last_name).to_have_attribute("aria-invalid", "true")
    error = page.locator("#id_last_name_error")
    expect(error).to_be_visible()
    expect(error).to_have_text("CDP: size must be between 0 and 10.")
    expect(last_name).to_have_accessible_description(re.compile("CDP: size must be between"))

    last_name.fill("Byrne")

    expect(error).to_be_hidden()
    expect(last_name).to_have_accessible_description("Title case is recommended, e.g. O'Neill.")
    expect(last_name).not_to_have_attribute("aria-invalid", "true")
    expect(last_name).not_to_have_class("is-invalid")

    last_name.fill("Byrne-Featherstonehaugh")  # the refused value again: its error again
    expect(error).to_be_visible()

    last_name.fill("Byrne")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Nothing was changed")


def test_a_missing_first_name_takes_the_focus_and_its_error_goes_when_one_is_typed(
    page, agent, sandbox
):
    sign_in(page, "agent", "agent-password")
    page.goto(f"/consumers/{CONSUMER_REF}/edit/")
    first_name = page.get_by_label("First name")

    first_name.fill("")
    page.get_by_role("button", name="Save").click()

    expect(first_name).to_be_focused()
    error = page.locator("#id_first_name_error")
    expect(error).to_have_text("Enter a first name: CDP requires one.")

    first_name.press_sequentially("W")

    expect(error).to_be_hidden()
    first_name.fill("")  # empty is what was refused, and the field's own rule refuses it too
    expect(error).to_be_visible()
