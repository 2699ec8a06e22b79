"""Fuzzing the edit form and the edit view: whatever is posted, never a 500 and never an exception,
invalid input never reaches CDP, and what does reach CDP holds only valid values."""

import re
import unicodedata
from datetime import datetime

import pytest
from django.core import signing
from django.core.cache import caches
from django.urls import reverse
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cdp_sandbox import seed
from consumers.forms import LOADED_SALT, ConsumerForm
from consumers.models import OrderConsumer
from consumers.records import TITLES, Gender
from consumers.services import consumer_fetch
from tests.conftest import CONSUMER_REF, ORDER_REF

CONSUMER_PATH = f"/v2/orderConsumers/{CONSUMER_REF}"
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
FUZZ = settings(
    deadline=None,
    database=None,
    # The view test's client, sandbox and database serve every example: each one resets them.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

SEED = seed.build()
SEEDED = SEED.consumers[CONSUMER_REF]
GUEST_REFS = sorted(SEED.guests)
ITEM_REFS = sorted(SEED.order_items)
OWN_ITEM_REFS = SEEDED["orderItems"]
GENDERS = [value for value, _ in Gender.choices]


def seeded_consumer() -> OrderConsumer:
    """Consumer 0 as the cache holds it after a fetch, without touching the database."""
    return OrderConsumer(
        ref=CONSUMER_REF,
        order_ref=ORDER_REF,
        title=SEEDED["title"],
        first_name=SEEDED["firstName"],
        last_name=SEEDED["lastName"],
        gender=SEEDED["gender"],
        guest_ref=SEEDED["guest"],
        order_item_refs=list(OWN_ITEM_REFS),
        cdp_modified_at=datetime.fromisoformat(SEEDED["modifiedAt"]),
    )


def loaded_field() -> str:
    return ConsumerForm.initial_for(seeded_consumer())["loaded"]


# --- strategies -------------------------------------------------------------------------------

CONTROLS = "\x00\x01\x08\t\n\r\x0b\x0c\x1b\x1f\x7f\x85\x9f\u2028\u2029"
hostile_text = st.text(
    alphabet=st.characters(codec="utf-8") | st.sampled_from(CONTROLS), max_size=40
)
huge_text = st.integers(250, 100_000).map(lambda n: "é" * n)
names = st.one_of(
    st.sampled_from(["Liam", "Mary-Kate", "O'Neill", "Fernández", "Chloé", "李", "  Liam  "]),
    st.from_regex(r"\A[A-Z][a-z]{1,12}\Z"),
    hostile_text,
    huge_text,
    # A name with one control character inside it, where stripping cannot take it away.
    st.builds(lambda c: f"Ma{c}ry", st.sampled_from(CONTROLS)),
)
base_urls = st.sampled_from(
    ["https://api-engage-eu.sitecorecloud.io", "http://127.0.0.1:8100", "https://x", "http://["]
)


def refs_or_links(collection: str, known: list[str]):
    ref = st.one_of(st.sampled_from(known), st.uuids().map(str), st.uuids().map(str).map(str.upper))
    return st.one_of(
        ref,
        st.builds(lambda base, r: f"{base}/v2/{collection}/{r}", base_urls, ref),
        st.builds(lambda base, r: f"{base}/v2.1/{collection}/{r}/", base_urls, ref),
        st.builds(lambda r: f"https://x/v2/orders/{r}", ref),  # a link to the wrong kind
        st.builds(lambda r: f"https://x/v2/{collection}/{r}%0A", ref),  # a ref with a line break
        st.builds(lambda r: f"{r}\n", ref),
        st.builds(lambda r, junk: r + junk, ref, hostile_text),
        hostile_text,
    )


@st.composite
def item_lines(draw) -> str:
    lines = draw(st.lists(refs_or_links("orderItems", ITEM_REFS), max_size=5))
    if lines and draw(st.booleans()):
        lines.append(draw(st.sampled_from(lines)))  # a line twice
    separator = draw(st.sampled_from(["\n", "\r\n", "\r", "\x0b", "\u2028", "\x85", " "]))
    return separator.join(lines)


def signed_loaded(field: str, junk) -> str:
    """The loaded version with one value of the wrong type, signed with the right key."""
    loaded = signing.loads(loaded_field(), salt=LOADED_SALT)
    loaded["values"][field] = junk
    return signing.dumps(loaded, salt=LOADED_SALT)


tampered_loaded = st.one_of(
    hostile_text,
    st.builds(
        signed_loaded,
        st.sampled_from(["title", "first_name", "gender", "guest_ref", "order_item_refs"]),
        st.none() | st.integers() | st.text(max_size=5) | st.lists(st.integers(), max_size=2),
    ),
    st.builds(lambda cut: loaded_field()[:cut], st.integers(0, 80)),
    st.builds(lambda suffix: loaded_field() + suffix, st.text(min_size=1, max_size=3)),
    # Signed with the right key but holding the wrong shapes: only if SECRET_KEY leaked.
    st.builds(
        lambda value: signing.dumps(value, salt=LOADED_SALT),
        st.one_of(
            st.none(),
            st.integers(),
            st.lists(st.integers(), max_size=2),
            st.fixed_dictionaries(
                {},
                optional={
                    "values": st.one_of(
                        st.none(),
                        st.integers(),
                        st.text(max_size=5),
                        st.dictionaries(
                            st.sampled_from(["title", "first_name", "order_item_refs", "x"]),
                            st.none()
                            | st.integers()
                            | st.text(max_size=5)
                            | st.lists(st.text(max_size=5), max_size=2),
                            max_size=3,
                        ),
                    ),
                    "modified_at": st.none() | st.integers() | st.text(max_size=30),
                },
            ),
        ),
    ),
)

FIELDS = {
    "title": st.sampled_from(["", *TITLES]) | hostile_text,
    "first_name": names,
    "last_name": names,
    "gender": st.sampled_from(["", *GENDERS]) | hostile_text,
    "guest_ref": st.just("") | refs_or_links("guests", GUEST_REFS),
    "order_item_refs": item_lines(),
    "reason": hostile_text | huge_text,
    "loaded": st.builds(loaded_field) | st.builds(loaded_field) | tampered_loaded,
}


@st.composite
def near_valid(draw) -> dict:
    """The form as the page rendered it, with one to three fields fuzzed and maybe one missing."""
    data = {
        "title": SEEDED["title"],
        "first_name": SEEDED["firstName"],
        "last_name": SEEDED["lastName"],
        "gender": SEEDED["gender"],
        "guest_ref": SEEDED["guest"],
        "order_item_refs": "\n".join(OWN_ITEM_REFS),
        "reason": "",
        "loaded": loaded_field(),
    }
    for name in draw(st.sets(st.sampled_from(sorted(FIELDS)), min_size=1, max_size=3)):
        data[name] = draw(FIELDS[name])
    if draw(st.integers(0, 9)) == 0:
        del data[draw(st.sampled_from(sorted(data)))]
    return data


# Mostly near the valid form, to get past the first error; sometimes anything at all.
post_data = near_valid() | near_valid() | st.fixed_dictionaries({}, optional=FIELDS)


# --- checks -----------------------------------------------------------------------------------


def has_control_characters(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in text)


def assert_valid_name(value) -> None:
    assert isinstance(value, str)
    assert value.strip()
    assert len(value) <= 255
    assert not has_control_characters(value)


def assert_clean(form: ConsumerForm) -> None:
    """What a valid form hands to the service is what CDP may be sent."""
    data = form.cleaned_data
    assert_valid_name(data["first_name"])
    assert_valid_name(data["last_name"])
    assert data["title"] in ("", *TITLES, form.consumer.title)
    assert data["gender"] in ("", *GENDERS, form.consumer.gender)
    assert data["guest_ref"] == "" or UUID.fullmatch(data["guest_ref"])
    refs = data["order_item_refs"]
    assert all(UUID.fullmatch(ref) for ref in refs)
    assert len(refs) == len(set(refs))
    loaded = data["loaded"]
    assert set(loaded["values"]) <= set(form.edited_values())
    for name, value in loaded["values"].items():
        if name == "order_item_refs":
            assert isinstance(value, list)
            assert all(isinstance(ref, str) for ref in value)
        else:
            assert isinstance(value, str)
    assert loaded["modified_at"] is None or isinstance(loaded["modified_at"], datetime)
    assert set(form.edited_values()) == {
        "title",
        "first_name",
        "last_name",
        "gender",
        "guest_ref",
        "order_item_refs",
    }


def assert_link(value, collection: str) -> None:
    assert isinstance(value, dict)
    assert set(value) == {"href"}
    assert re.fullmatch(rf"https?://[^/]+/v2/{collection}/{UUID.pattern}", value["href"])


def assert_valid_update(body) -> None:
    """An update body CDP would take: names, a gender from the enum, proper links."""
    assert isinstance(body, dict)
    assert_valid_name(body["firstName"])
    assert_valid_name(body["lastName"])
    assert body.get("gender", "male") in GENDERS
    assert isinstance(body.get("title", ""), str)
    if "guest" in body:
        assert_link(body["guest"], "guests")
    if "orderItems" in body:
        assert set(body["orderItems"]) == {"items"}
        for item in body["orderItems"]["items"]:
            assert_link(item, "orderItems")


# --- the form ---------------------------------------------------------------------------------


@settings(FUZZ, max_examples=400)
@given(data=post_data)
def test_the_form_refuses_bad_input_and_cleans_the_rest(data):
    form = ConsumerForm(data, consumer=seeded_consumer())

    if form.is_valid():
        assert_clean(form)
    else:
        assert form.errors


# --- the view, over HTTP to the sandbox --------------------------------------------------------


@pytest.fixture
def edit(agent_client, sandbox):
    """Post to the edit view with CDP (the sandbox) and the cache as a fresh edit page left them."""
    url = reverse("consumers:edit", kwargs={"ref": CONSUMER_REF})

    def post(data: dict):
        sandbox.reset()
        caches["default"].clear()
        OrderConsumer.objects.filter(ref=CONSUMER_REF).delete()
        consumer = consumer_fetch(ref=CONSUMER_REF)
        valid = ConsumerForm(data, consumer=consumer).is_valid()
        sandbox.requests.clear()
        return agent_client.post(url, data), valid

    return post


@settings(FUZZ, max_examples=150)
@given(data=near_valid() | post_data)
def test_the_edit_view_never_fails_and_sends_cdp_only_valid_values(edit, sandbox, data):
    response, valid = edit(data)
    event("valid" if valid else "invalid")
    if sandbox.requests_to("POST", CONSUMER_PATH):
        event("sent to CDP")

    assert response.status_code in (200, 302)
    if not valid:
        assert response.status_code == 200
        assert response.context["form"].errors
        assert list(sandbox.requests) == []
    for request in sandbox.requests_to("POST", CONSUMER_PATH):
        assert_valid_update(request.body)
