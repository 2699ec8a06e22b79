"""A validation error from CDP that names an attribute points at the form field it belongs to."""

import re

import pytest
from django.urls import reverse

from cdp.errors import CDPRejected
from consumers.services import cdp_field_errors
from tests.conftest import CONSUMER_REF, form_data

EDIT = reverse("consumers:edit", kwargs={"ref": CONSUMER_REF})


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("lastName: may not be null.", {"last_name": "may not be null."}),
        ("firstName: firstName may not be null.", {"first_name": "firstName may not be null."}),
        (
            "firstName: size must be between 0 and 5, lastName: may not be null",
            {"first_name": "size must be between 0 and 5", "last_name": "may not be null"},
        ),
        ("orderItems[0]: unknown order item", {"order_item_refs": "unknown order item"}),
        (
            "gender: must be one of male, female, unknown",
            {"gender": "must be one of male, female, unknown"},
        ),
        ("dateOfBirth: must be a date", {}),  # not a field of the form: stays a form error
        ("Something went wrong", {}),
    ],
)
def test_cdps_message_is_mapped_to_the_fields_it_names(message, expected):
    error = CDPRejected(
        f"CDP refused the request (HTTP 400 Bad Request): {message}",
        status=400,
        developer_message=message,
    )

    assert cdp_field_errors(error) == expected


def test_a_too_long_last_name_refused_by_cdp_is_shown_on_last_name_which_gets_the_focus(
    agent_client, sandbox
):
    data = form_data(agent_client, last_name="Byrne-" + "x" * 30)
    sandbox.config.max_string_length = 20

    response = agent_client.post(EDIT, data)

    content = response.content.decode()
    form = response.context["form"]
    assert form.errors["last_name"] == ["CDP: size must be between 0 and 20."]
    assert "CDP did not save the change." in content  # the whole answer stays at the top
    autofocused = re.findall(r"<(?:input|select|textarea)[^>]*\bautofocus\b[^>]*>", content)
    assert len(autofocused) == 1
    assert 'id="id_last_name"' in autofocused[0]
    assert 'aria-invalid="true"' in autofocused[0]


def test_a_form_error_also_moves_the_focus_to_its_field(agent_client, sandbox):
    response = agent_client.post(EDIT, form_data(agent_client, first_name=""))

    autofocused = re.findall(r"<input[^>]*\bautofocus\b[^>]*>", response.content.decode())
    assert len(autofocused) == 1
    assert 'id="id_first_name"' in autofocused[0]
