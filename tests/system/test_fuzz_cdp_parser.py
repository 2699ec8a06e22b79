"""Fuzzing what CDP answers: whatever the body, only a readable CDPError escapes, and nothing broken
is cached. The bodies reach the parser directly and through real HTTP from the sandbox."""

import json
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.core.cache import caches
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdp import client
from cdp.errors import CDPBadResponse, CDPError
from cdp.links import ref_from_link
from cdp_sandbox.server import Fault
from consumers import services
from consumers.models import OrderConsumer
from consumers.records import _item_refs, consumer_fields
from tests.conftest import CONSUMER_REF, ORDER_REF

CONSUMER_PATH = f"/v2/orderConsumers/{CONSUMER_REF}"
CONSUMERS_PATH = f"/v2/orders/{ORDER_REF}/consumers"
FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- strategies -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["", "\x00", "\ud800", "http://[", "NaN"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
hrefs = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "http://[",
            "https://[::1",
            "http://cdp.example/v2/guests/",
            "http://cdp.example/",
            "/",
            "",
            "http://cdp.example/v2/orders/" + "a" * 80,
            "http://cdp.example/v2/orders/%00",
            "http://cdp.example:99999/v2/orders/x",
        ]
    ),
    st.uuids().map(lambda u: f"http://cdp.example/v2/orders/{u}"),
)
links = st.builds(lambda href: {"href": href}, hrefs) | json_values
offsets = st.sampled_from([timezone(timedelta(hours=h)) for h in (-23, -5, 0, 1, 14, 23)])
times = st.one_of(
    st.datetimes(timezones=st.none() | offsets).map(datetime.isoformat),
    st.sampled_from(
        [
            "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00+23:59",
            "2026-13-01T00:00:00Z",
            "2026-10-01T09:15:00.000Z",
            "2026-W40-3",
            "yesterday",
        ]
    ),
    json_values,
)
# What no database column can keep: NUL, a lone surrogate, NaN and infinity (PostgreSQL refuses
# them all; SQLite some).
unstorable = st.sampled_from(["Li\x00am", "\ud83d", "a\udc00b", math.nan, math.inf, {"k\x00": 1}])
names = st.one_of(
    st.text(max_size=30),
    st.integers(250, 300).map(lambda n: "x" * n),
    unstorable,
    json_values,
)
FIELD_VALUES = {
    "firstName": names,
    "lastName": names,
    "title": names,
    "gender": st.sampled_from(["male", "female", "unknown", "x" * 20]) | json_values,
    "guest": links,
    "order": links,
    "orderItems": st.one_of(
        st.lists(links, max_size=3),
        st.lists(links, max_size=3).map(lambda items: {"items": items}),
        json_values,
    ),
    "createdAt": times,
    "modifiedAt": times,
    "emails": json_values,
    "passportNumber": unstorable | json_values,
    "specialAssistance": st.dictionaries(st.text(max_size=5), unstorable | json_values, max_size=3),
}


@st.composite
def records(draw) -> dict:
    """A consumer record in the documented shape, with some attributes broken or left out."""
    record = {
        "href": f"http://cdp.example/v2/orderConsumers/{CONSUMER_REF}",
        "ref": CONSUMER_REF,
        "firstName": "Liam",
        "lastName": "Byrne",
        "order": {"href": f"http://cdp.example/v2/orders/{ORDER_REF}"},
        "modifiedAt": "2026-10-01T09:15:00.000Z",
    }
    for name in draw(st.sets(st.sampled_from(sorted(FIELD_VALUES)), max_size=4)):
        record[name] = draw(FIELD_VALUES[name])
    for name in draw(st.sets(st.sampled_from(sorted(record)), max_size=2)):
        del record[name]
    return record


def _dumps(value) -> str:
    return json.dumps(value, allow_nan=True)


bodies = st.one_of(
    records().map(_dumps),
    json_values.map(_dumps),
    st.binary(max_size=60),
    st.text(max_size=60),
    st.integers(1_000, 200_000).map(lambda n: "[" * n + "]" * n),
    st.sampled_from(
        [
            '{"firstName": "\\ud800", "lastName": "x"}',
            '{"firstName": "Li\\u0000am", "lastName": "Byrne"}',
            '{"firstName": "Liam", "lastName": "Byrne", "x": NaN}',
            '{"firstName": "Liam", "lastName": "Byrne", "x": 1e999}',
            '{"firstName": "Liam", "lastName": "Byrne", "n": ' + "9" * 5000 + "}",
            '{"items": [{"href": "http://["}], "limit": 1}',
            '{"items": "not a list"}',
            '{"items": [], "limit": -3}',
            "null",
            "",
        ]
    ),
)
bodies_bytes = bodies.map(
    lambda b: b if isinstance(b, bytes) else b.encode("utf-8", "surrogatepass")
)


# --- checks -----------------------------------------------------------------------------------


def _strings(value):
    """Yield every string in a JSON value, keys included, without recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def assert_storable(fields: dict) -> None:
    """What the parser accepts fits the cache's columns on every database, PostgreSQL included."""
    for name, value in fields.items():
        max_length = getattr(OrderConsumer._meta.get_field(name), "max_length", None)
        assert max_length is None or len(value) <= max_length, name
    json.dumps(fields["raw"], allow_nan=False).encode("utf-8")
    assert not any("\x00" in text for text in _strings(fields))
    for name in ("cdp_created_at", "cdp_modified_at"):
        moment = fields[name]
        assert moment is None or moment.astimezone(UTC).year >= 1
    assert all(isinstance(ref, str) and ref for ref in fields["order_item_refs"])


def assert_readable(error: CDPError) -> None:
    message = str(error)
    assert message.strip()
    assert len(message) < 2_000


@pytest.fixture
def fresh(sandbox, settings):
    """Start each example afresh: sandbox, circuit breaker, cache; one try per call."""
    settings.CDP_RETRY_ATTEMPTS = 1

    def reset():
        sandbox.reset()
        caches["default"].clear()
        OrderConsumer.objects.filter(ref=CONSUMER_REF).delete()

    return reset


# --- straight to the parser -------------------------------------------------------------------


@settings(FUZZ, max_examples=600)
@given(record=records() | json_values)
def test_the_parser_accepts_a_storable_record_or_says_what_is_wrong(record):
    try:
        fields = consumer_fields(record)
    except CDPBadResponse as error:
        assert_readable(error)
    else:
        assert_storable(fields)


@settings(FUZZ, max_examples=300)
@given(value=FIELD_VALUES["orderItems"] | links)
def test_link_lists_and_links_parse_or_are_refused(value):
    assert isinstance(ref_from_link(value), str)
    try:
        refs = _item_refs(value)
    except CDPBadResponse as error:
        assert_readable(error)
    else:
        assert all(isinstance(ref, str) and ref for ref in refs)


# --- through HTTP -----------------------------------------------------------------------------


@settings(FUZZ, max_examples=200)
@given(
    body=bodies_bytes,
    status=st.sampled_from([200, 200, 200, 400, 401, 404, 409, 429, 500]),
    path=st.sampled_from([CONSUMER_PATH, CONSUMER_PATH, "/v2/guests/.*", "/v2/orders/.*"]),
)
def test_any_answer_to_a_consumer_read_is_a_consumer_or_a_readable_error(
    sandbox, db, fresh, body, status, path
):
    fresh()
    sandbox.inject(Fault(method="GET", path=path, body=body, status=status, times=None))

    try:
        consumer = services.consumer_fetch(ref=CONSUMER_REF)
    except CDPError as error:
        assert path == CONSUMER_PATH  # a broken guest or order leaves the consumer readable
        assert_readable(error)
        assert not OrderConsumer.objects.filter(ref=CONSUMER_REF).exists()
    else:
        assert status == 200 or path != CONSUMER_PATH
        consumer.refresh_from_db()
        assert isinstance(consumer.first_name, str)


@settings(FUZZ, max_examples=200)
@given(body=bodies_bytes, status=st.sampled_from([200, 200, 200, 400, 404, 503]))
def test_any_answer_to_a_list_of_consumers_is_a_list_of_refs_or_a_readable_error(
    sandbox, db, fresh, body, status
):
    fresh()
    sandbox.inject(Fault(method="GET", path=CONSUMERS_PATH, body=body, status=status, times=None))

    try:
        refs = client.list_order_consumer_refs(ORDER_REF)
    except CDPError as error:
        assert_readable(error)
    else:
        assert all(isinstance(ref, str) and ref for ref in refs)
        assert len(refs) == len(set(refs))
