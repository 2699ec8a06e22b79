"""The edit form: labels, trimming, refs pasted as links, and clear errors for malformed input."""

from datetime import UTC, datetime

import pytest
from django import forms
from django.core import signing

from consumers.forms import ConsumerForm, parse_ref
from consumers.models import OrderConsumer

GUEST = "3f9a1c2e-8b7d-4e6f-a5b4-c3d2e1f0a9b8"
ITEM_A = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
ITEM_B = "FECBB7ED-1234-4ABC-9DEF-0123456789AB"


def make_consumer(**fields) -> OrderConsumer:
    defaults = {
        "ref": "c",
        "order_ref": "o",
        "first_name": "Liam",
        "last_name": "Byrne",
        "title": "Mr",
        "gender": "male",
    }
    return OrderConsumer(**{**defaults, **fields})


def bound(consumer=None, **data):
    consumer = consumer or make_consumer()
    values = {
        "title": "Mr",
        "first_name": "Liam",
        "last_name": "Byrne",
        "gender": "male",
        "guest_ref": "",
        "order_item_refs": "",
        "loaded": ConsumerForm.initial_for(consumer)["loaded"],
    }
    return ConsumerForm({**values, **data}, consumer=consumer)


def test_its_fields_carry_the_labels_agents_see():
    form = ConsumerForm(consumer=make_consumer())

    assert [
        form[name].label
        for name in ("title", "first_name", "last_name", "gender", "guest_ref", "order_item_refs")
    ] == ["Title", "First name", "Last name", "Gender", "Guest", "Order items"]


def test_it_trims_names():
    form = bound(first_name="  Liam ", last_name=" O'Neill  ")

    assert form.is_valid(), form.errors
    assert (form.cleaned_data["first_name"], form.cleaned_data["last_name"]) == ("Liam", "O'Neill")


@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_it_requires_both_names(field):
    form = bound(**{field: "   "})

    assert not form.is_valid()
    assert "CDP requires one" in form.errors[field][0]


def test_it_refuses_control_characters_in_a_name():
    form = bound(last_name="Byr\nne")

    assert not form.is_valid()
    assert "control characters" in form.errors["last_name"][0]


def test_it_offers_the_documented_titles_and_genders_with_blank_allowed():
    form = ConsumerForm(consumer=make_consumer())
    title, gender = form.fields["title"], form.fields["gender"]
    assert isinstance(title, forms.ChoiceField)
    assert isinstance(gender, forms.ChoiceField)
    assert isinstance(title.choices, list)
    assert isinstance(gender.choices, list)

    blank, *groups = title.choices
    titles = [blank[0], *(value for _, group in groups for value, _ in group)]
    assert titles[0] == ""
    assert "Mstr" in titles
    assert "Shaikha" in titles
    assert len(titles) == 28  # blank, CDP's 26, and Mx
    assert [value for value, _ in gender.choices] == [
        "",
        "male",
        "female",
        "unknown",
    ]
    assert bound(title="", gender="").is_valid()


def test_the_common_titles_come_first_then_the_rest():
    title = ConsumerForm(consumer=make_consumer()).fields["title"]
    assert isinstance(title, forms.ChoiceField)

    assert isinstance(title.choices, list)
    blank, (common, first), (other, rest) = title.choices
    assert blank == ("", "—")
    assert (common, [value for value, _ in first]) == (
        "Common titles",
        ["Mr", "Mrs", "Ms", "Miss", "Mx", "Dr"],
    )
    assert other == "Other titles"
    assert [value for value, _ in rest][:3] == ["Br", "Brigadier", "Capt"]
    assert "Mr" not in [value for value, _ in rest]
    assert bound(title="Mx").is_valid()


def test_it_keeps_a_title_cdp_holds_that_is_not_in_the_documented_list():
    form = bound(consumer=make_consumer(title="Lady"), title="Lady")

    assert form.is_valid(), form.errors
    assert form.cleaned_data["title"] == "Lady"


def test_it_refuses_a_title_outside_the_list():
    form = bound(title="Overlord")

    assert not form.is_valid()
    assert "title" in form.errors


def test_it_stores_a_pasted_guest_link_as_its_ref():
    form = bound(guest_ref=f" https://api-engage-eu.sitecorecloud.io/v2/guests/{GUEST} ")

    assert form.is_valid(), form.errors
    assert form.cleaned_data["guest_ref"] == GUEST


def test_it_reads_one_order_item_per_line_as_refs_or_links():
    form = bound(order_item_refs=f"{ITEM_A}\r\n\r\nhttp://127.0.0.1:8100/v2/orderItems/{ITEM_B}\n")

    assert form.is_valid(), form.errors
    assert form.cleaned_data["order_item_refs"] == [ITEM_A, ITEM_B]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("guest_ref", "not-a-ref", "is not a CDP ref"),
        (
            "guest_ref",
            f"https://api-engage-eu.sitecorecloud.io/v2/orderItems/{ITEM_A}",
            "is a link to an order item, not to a guest",
        ),
        ("guest_ref", "https://example.com/somewhere/else", "is not a CDP link"),
        ("order_item_refs", f"{ITEM_A}\n{ITEM_A}", "listed more than once"),
        ("order_item_refs", f"{ITEM_A}\nbanana", "banana is not a CDP ref"),
        (
            "order_item_refs",
            f"https://api-engage-eu.sitecorecloud.io/v2/guests/{GUEST}",
            "is a link to a guest, not to an order item",
        ),
    ],
)
def test_it_explains_malformed_links(field, value, message):
    form = bound(**{field: value})

    assert not form.is_valid()
    assert message in " ".join(form.errors[field])


def test_it_carries_the_version_it_was_loaded_with():
    loaded_at = datetime(2026, 10, 1, 9, 15, 0, 123000, tzinfo=UTC)
    consumer = make_consumer(cdp_modified_at=loaded_at)
    form = bound(consumer, last_name="Beirne")

    assert form.is_valid(), form.errors
    assert form.cleaned_data["loaded"]["modified_at"] == loaded_at
    assert form.cleaned_data["loaded"]["values"]["last_name"] == "Byrne"


@pytest.mark.parametrize("loaded", ["", "tampered", signing.dumps({"values": {}}, salt="another")])
def test_it_refuses_a_version_it_did_not_sign(loaded):
    form = bound(loaded=loaded)

    assert not form.is_valid()
    assert "reload the page" in form.errors["loaded"][0]


def test_parse_ref_accepts_v2_1_links_too():
    assert (
        parse_ref(f"https://api-engage-us.sitecorecloud.io/v2.1/guests/{GUEST}", "guests") == GUEST
    )
