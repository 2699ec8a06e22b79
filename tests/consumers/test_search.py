"""Search finds what people type: names in any case, with or without accents, apostrophes,
hyphens and spaces; booking references in any case and with or without their -N; a title and a
name; a phone number; a loyalty id. On SQLite and PostgreSQL alike."""

import uuid

import pytest
from django.urls import reverse

from consumers import services
from consumers.models import Order, OrderConsumer
from consumers.search import name_keys, search_key
from tests.conftest import ORDER_REF

FIND = reverse("consumers:find")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Fernandez", "Fernández"),
        ("FERNÁNDEZ", "Fernández"),
        ("O’Sullivan", "O'Sullivan"),
        ("OʼSullivan", "O'Sullivan"),
        ("OSullivan", "O'Sullivan"),
        ("o sullivan", "O'Sullivan"),
        ("Strasse", "Straße"),
        ("Soren", "Søren"),
        ("Mary Kate", "Mary-Kate"),
        ("marykate", "Mary-Kate"),
        ("Vanderberg", "van der Berg"),
        ("Lukasz", "Łukasz"),
        ("Aesir", "Æsir"),
    ],
)
def test_the_query_and_the_name_meet_as_one_key(typed, stored):
    assert search_key(typed) == search_key(stored)


def test_a_key_holds_letters_and_digits_only():
    assert search_key(" O’Brien-Smyth, Jr. ") == "obriensmythjr"
    assert name_keys("Aoife", "Byrne") == {
        "first_key": "aoife",
        "last_key": "byrne",
        "name_key": "aoifebyrne",
    }


def cached(first: str, last: str, title: str = "") -> OrderConsumer:
    return OrderConsumer.objects.create(
        ref=str(uuid.uuid4()), order_ref="o", title=title, first_name=first, last_name=last,
        fetched_at="2026-01-01T00:00:00Z",
    )  # fmt: skip


def found(query: str) -> set[str]:
    return {f"{c.first_name} {c.last_name}" for c in services.consumer_search(query=query)}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("fernandez", {"Javier Fernández", "Lucía Fernández"}),
        ("Lucia", {"Lucía Fernández"}),
        ("lucia fernandez", {"Lucía Fernández"}),
        ("Fernandez Lucia", {"Lucía Fernández"}),  # the other way round
        ("O’Sullivan", {"Noah O'Sullivan"}),
        ("osull", {"Noah O'Sullivan"}),
        ("Mary Kate", {"Mary-Kate Ní Bhriain"}),
        ("ni bhriain", {"Mary-Kate Ní Bhriain"}),
        ("Strasse", {"Jürgen Straße"}),
        ("jurgen", {"Jürgen Straße"}),
        ("Soren", {"Søren Kierkegaard"}),
        ("nobody", set()),
        ("  ’-  ", set()),
    ],
)
def test_cached_names_are_found_however_they_are_typed(query, expected):
    cached("Javier", "Fernández", "Mr")
    cached("Lucía", "Fernández", "Mrs")
    cached("Noah", "O'Sullivan")
    cached("Mary-Kate", "Ní Bhriain")
    cached("Jürgen", "Straße")
    cached("Søren", "Kierkegaard")

    assert found(query) == expected


@pytest.mark.django_db
def test_a_title_before_the_name_narrows_to_that_title():
    cached("Liam", "Byrne", "Mr")
    cached("Aoife", "Byrne", "Mrs")
    cached("Saoirse", "Byrne", "Miss")

    assert found("Mrs Byrne") == {"Aoife Byrne"}
    assert found("mrs. byrne") == {"Aoife Byrne"}
    assert found("Byrne") == {"Liam Byrne", "Aoife Byrne", "Saoirse Byrne"}
    assert found("Mr") == set()  # a title alone is no name; nobody is called "Mr…"


@pytest.mark.django_db
def test_the_keys_follow_a_rename_through_the_model_and_the_services(sandbox):
    consumer = cached("Liam", "Byrne")
    consumer.last_name = "Ó Broin"
    consumer.save(update_fields=["last_name"])

    assert found("o broin") == {"Liam Ó Broin"}


def test_the_search_box_finds_an_order_by_its_booking_reference_in_any_case(agent_client):
    response = agent_client.get(FIND, {"q": "b94txy-1"})

    assert response.status_code == 302
    assert response["Location"] == reverse("consumers:order", args=[ORDER_REF])


def test_a_booking_reference_without_its_suffix_is_asked_for_with_it(agent_client, sandbox):
    response = agent_client.get(FIND, {"q": "b94txy"})

    assert response["Location"] == reverse("consumers:order", args=[ORDER_REF])
    asked = [r.query["referenceId"] for r in sandbox.requests_to("GET", "/v2/orders")]
    assert asked == ["b94txy", "B94TXY", "B94TXY-1"]


def test_a_cached_order_is_found_without_asking_cdp(agent_client, sandbox):
    services.order_fetch(ref=ORDER_REF)
    sandbox.requests.clear()

    response = agent_client.get(FIND, {"q": "B94txy"})

    assert response["Location"] == reverse("consumers:order", args=[ORDER_REF])
    assert sandbox.requests_to("GET", "/v2/orders") == []


def test_orders_under_one_pnr_are_all_listed_from_the_cache(db):
    for number, reference in enumerate(["Q1ABCD-1", "Q1ABCD-2", "Q1ABCDE-1"]):
        Order.objects.create(
            ref=f"r{number}", reference_id=reference, fetched_at="2026-01-01T00:00Z"
        )

    assert {o.reference_id for o in services.orders_by_booking("q1abcd")} == {
        "Q1ABCD-1",
        "Q1ABCD-2",
    }
    assert {o.reference_id for o in services.orders_by_booking("Q1ABCD-2")} == {
        "Q1ABCD-1",
        "Q1ABCD-2",
    }


def test_no_match_says_which_kinds_were_tried(agent_client):
    content = agent_client.get(FIND, {"q": "ZZ99ZZ-1"}).content.decode()

    assert "Nothing matches “ZZ99ZZ-1”. Tried: cached orders by booking reference" in content
    assert "with the booking reference ZZ99ZZ-1, ZZ99ZZ" in content
    assert "guests by loyalty id (loyalty)" in content
    assert "cached consumers by name" in content
    assert "guests by last name" in content


def test_a_title_and_a_name_find_the_consumer_through_cdp_when_nothing_is_cached(agent_client):
    services.order_fetch(ref=ORDER_REF)  # the Byrnes, cached

    response = agent_client.get(FIND, {"q": "Mrs Byrne"})

    assert response.status_code == 302
    assert OrderConsumer.objects.get(title="Mrs", last_name="Byrne").ref in response["Location"]


def test_a_phone_number_finds_its_guests_consumer(agent_client, sandbox):
    response = agent_client.get(FIND, {"q": "+353 1 555 1003"})  # Amelia Clarke, order K2LMQA-1

    assert response.status_code == 302
    assert sandbox.requests_to("GET", "/v2/guests")[0].query["phoneNumber"] == "+353 1 555 1003"


def test_a_phone_number_typed_without_spaces_finds_it_too(agent_client):
    assert agent_client.get(FIND, {"q": "+35315551003"}).status_code == 302


def test_a_loyalty_id_finds_its_guests_consumer(agent_client, sandbox):
    response = agent_client.get(FIND, {"q": "FF900004"})  # Oliver Hughes

    assert response.status_code == 302
    asked = sandbox.requests_to("GET", "/v2/guests")[0].query
    assert asked["identifiers.provider"] == "loyalty"
    assert asked["identifiers.id"] == "FF900004"


def test_an_identifier_named_with_its_provider_is_asked_as_such(agent_client, sandbox):
    response = agent_client.get(FIND, {"q": "loyalty:FF900004"})

    assert response.status_code == 302
    assert sandbox.requests_to("GET", "/v2/guests")[0].query["identifiers.id"] == "FF900004"


def test_an_unknown_phone_number_says_what_was_tried(agent_client):
    content = agent_client.get(FIND, {"q": "+44 20 7946 0000"}).content.decode()

    assert "Tried: CDP&#x27;s guests by phone number." in content


def test_guests_found_in_cdp_show_email_and_booking_so_namesakes_differ(agent_client):
    content = agent_client.get(FIND, {"q": "Fernández"}).content.decode()

    # Three Fernández guests on one booking; CDP lists it as the orders of its contact only.
    assert content.count("QH7RTE-1") == 1
    assert "lucía.fernández@example.com" in content


def test_the_start_pages_demo_orders_name_booking_lead_and_email(agent_client, settings):
    settings.CDP_DEMO_ORDER_REFS = [ORDER_REF]
    before = agent_client.get(reverse("consumers:home")).content.decode()
    services.order_fetch(ref=ORDER_REF)

    after = agent_client.get(reverse("consumers:home")).content.decode()

    assert "(not opened yet)" in before
    assert "B94TXY-1</a> · Mr Liam Byrne · liam.byrne@example.com" in after
