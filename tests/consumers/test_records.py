"""The table of editable fields, and how each kind maps to and from CDP and the audit log."""

import pytest
from django.db import models

from cdp.errors import CDPBadResponse
from cdp.transport import Connection
from consumers import records
from consumers.models import OrderConsumer
from consumers.records import Kind

GUEST = "3f9a1c2e-8b7d-4e6f-a5b4-c3d2e1f0a9b8"
ITEM_A = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
ITEM_B = "fecbb7ed-1234-4abc-9def-0123456789ab"
CDP = Connection(
    base_url="https://cdp.example",
    client_key="key",
    api_token="token",
    connect_timeout=1.0,
    read_timeout=1.0,
)


def link(collection: str, ref: str) -> dict:
    return {"href": f"https://cdp.example/v2/{collection}/{ref}"}


def record(**attributes) -> dict:
    return {
        "ref": "c",
        "href": "https://cdp.example/v2/orderConsumers/c",
        "order": link("orders", "o"),
        "title": "Mr",
        "firstName": "Liam",
        "lastName": "Byrne",
        "gender": "male",
        "guest": link("guests", GUEST),
        "orderItems": {"items": [link("orderItems", ITEM_A), link("orderItems", ITEM_B)]},
        "emails": ["liam.byrne@example.com"],
        "createdAt": "2026-09-01T08:00:00.000Z",
        "modifiedAt": "2026-10-01T09:15:00.000Z",
        **attributes,
    }


# --- the table --------------------------------------------------------------------------------


def test_the_table_names_each_field_its_cdp_attribute_kind_and_label():
    assert [(f.name, f.attribute, f.kind, f.label) for f in records.FIELDS] == [
        ("title", "title", Kind.CHOICE, "Title"),
        ("first_name", "firstName", Kind.TEXT, "First name"),
        ("last_name", "lastName", Kind.TEXT, "Last name"),
        ("gender", "gender", Kind.CHOICE, "Gender"),
        ("guest_ref", "guest", Kind.LINK, "Guest"),
        ("order_item_refs", "orderItems", Kind.LINK_LIST, "Order items"),
    ]
    assert records.LABELS["last_name"] == "Last name"
    assert records.field_of_attribute("lastName") == records.field("last_name")
    assert records.field_of_attribute("dateOfBirth") is None
    assert records.label("api_token") == "api_token"


def test_the_cache_keeps_each_field_as_long_as_the_table_says():
    for field in records.FIELDS:
        column = OrderConsumer._meta.get_field(field.name)
        assert isinstance(column, models.Field)
        if field.kind is Kind.LINK_LIST:
            assert column.get_internal_type() == "JSONField"
        else:
            assert column.max_length == field.max_length, field.name
    for name in ("ref", "order_ref", "guest_ref"):
        column = OrderConsumer._meta.get_field(name)
        assert isinstance(column, models.Field)
        assert column.max_length == records.REF_MAX_LENGTH


def test_the_editable_values_of_a_consumer_are_the_tables_fields_in_its_order():
    consumer = OrderConsumer(first_name="Liam", last_name="Byrne", order_item_refs=[ITEM_A])

    assert list(consumer.editable_values()) == list(records.NAMES)
    assert consumer.editable_values()["order_item_refs"] == [ITEM_A]


def test_a_choice_offers_blank_and_the_documented_values_and_keeps_the_one_cdp_holds():
    titles = records.choices("title", current="Mr")
    assert titles[0] == ("", "—")
    assert ("Shaikha", "Shaikha") in titles
    assert len(titles) == 27
    assert records.choices("gender", current="") == [
        ("", "—"),
        ("male", "Male"),
        ("female", "Female"),
        ("unknown", "Unknown"),
    ]
    assert records.choices("title", current="Lady")[-1] == ("Lady", "Lady (as in CDP)")


def test_a_value_has_the_shape_of_its_fields_kind():
    assert records.is_value_of("last_name", "Byrne")
    assert not records.is_value_of("last_name", ["Byrne"])
    assert records.is_value_of("order_item_refs", [ITEM_A])
    assert not records.is_value_of("order_item_refs", [ITEM_A, 7])
    assert not records.is_value_of("order_item_refs", ITEM_A)
    assert not records.is_value_of("date_of_birth", "2000-01-01")


# --- reading a CDP record ---------------------------------------------------------------------


def test_it_reads_each_kind_of_field_from_a_cdp_record():
    fields = records.consumer_fields(record())

    assert fields["first_name"] == "Liam"  # text
    assert fields["gender"] == "male"  # choice
    assert fields["guest_ref"] == GUEST  # link
    assert fields["order_item_refs"] == [ITEM_A, ITEM_B]  # link list
    assert fields["order_ref"] == "o"
    assert fields["cdp_modified_at"].isoformat() == "2026-10-01T09:15:00+00:00"
    assert fields["raw"]["emails"] == ["liam.byrne@example.com"]


def test_it_reads_an_absent_field_as_empty_and_a_bare_list_of_links_too():
    bare = record(orderItems=[link("orderItems", ITEM_A)])
    del bare["title"], bare["guest"]

    fields = records.consumer_fields(bare)

    assert (fields["title"], fields["guest_ref"]) == ("", "")
    assert fields["order_item_refs"] == [ITEM_A]


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"lastName": None}, "without a first and last name"),
        (
            {"title": "x" * 51},
            "CDP sent a title of 51 characters; this back office keeps at most 50",
        ),
        ({"guest": "nobody"}, "CDP sent a guest that is not a link"),
        ({"orderItems": {"items": "x"}}, "CDP sent orderItems that are not a list of links."),
        ({"orderItems": [{"href": 3}]}, "CDP sent a orderItems entry that is not a link"),
        ({"modifiedAt": "yesterday"}, "CDP sent a modifiedAt that is not a date and time"),
        ({"firstName": "Li\x00am"}, "with a NUL character in its text"),
    ],
)
def test_it_refuses_a_record_it_could_not_keep(attributes, message):
    with pytest.raises(CDPBadResponse, match=message):
        records.consumer_fields(record(**attributes))


# --- writing a CDP record ---------------------------------------------------------------------


def test_the_push_body_lays_each_kind_of_change_over_the_fresh_record():
    changes = {
        "last_name": ("Byrne", "Beirne"),  # text
        "title": ("Mr", ""),  # a choice cleared
        "guest_ref": ("", GUEST),  # link
        "order_item_refs": ([ITEM_A], [ITEM_B]),  # link list
    }

    body = records.push_body(record(), changes, connection=CDP)

    assert body["lastName"] == "Beirne"
    assert "title" not in body  # left out: how v2 clears an attribute
    assert body["guest"] == link("guests", GUEST)
    assert body["orderItems"] == {"items": [link("orderItems", ITEM_B)]}
    assert body["emails"] == ["liam.byrne@example.com"]  # what the form does not show, kept
    assert not set(body) & set(records.READ_ONLY_ATTRIBUTES)


# --- comparing and listing changes ------------------------------------------------------------


def test_links_in_another_order_are_the_same_value_and_text_must_match_exactly():
    assert records.same_value("order_item_refs", [ITEM_A, ITEM_B], [ITEM_B, ITEM_A])
    assert not records.same_value("order_item_refs", [ITEM_A], [ITEM_A, ITEM_B])
    assert not records.same_value("last_name", "Byrne", "byrne")


def test_the_changes_are_the_fields_whose_value_differs_from_what_was_loaded():
    loaded = {"last_name": "Byrne", "order_item_refs": [ITEM_A, ITEM_B]}
    data = {"last_name": "Beirne", "order_item_refs": [ITEM_B, ITEM_A], "guest_ref": GUEST}

    assert records.changes(loaded, data) == {
        "last_name": ("Byrne", "Beirne"),
        "guest_ref": ("", GUEST),  # nothing loaded: it was empty
    }
    assert records.holds({**loaded, "last_name": "Beirne"}, {"last_name": ("Byrne", "Beirne")})


# --- audit text -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("last_name", "Byrne", "Byrne"),
        ("gender", "", ""),
        ("guest_ref", GUEST, GUEST),
        ("order_item_refs", [ITEM_A, ITEM_B], f"{ITEM_A}, {ITEM_B}"),
        ("order_item_refs", [], ""),
    ],
)
def test_a_value_becomes_audit_text_and_back(name, value, text):
    assert records.audit_text(value) == text
    assert records.from_audit_text(name, text) == value


def test_a_page_shows_no_value_as_nothing():
    assert records.display_text(None) == ""
    assert records.display_text([ITEM_A, ITEM_B]) == f"{ITEM_A}, {ITEM_B}"
