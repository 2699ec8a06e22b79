"""Fuzzing every GET filter a supervisor can send: the audit list and its export, the dashboard, the
queue, the search box and the home page's lookup. Whatever the query string holds, the answer is
never a 5xx and never a stack trace; what a form refuses comes back as its message."""

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from audit.models import AuditEntry
from audit.services import RequestMeta, audit_entry_create
from tests.conftest import CONSUMER_REF, ORDER_REF

FUZZ = settings(
    deadline=None,
    database=None,
    # One signed-in client, sandbox and database serve every example; requests change nothing.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# The find box and the home page's lookup ask the sandbox over real HTTP: fewer examples there.
FEW = settings(FUZZ, max_examples=25)
MANY = settings(FUZZ, max_examples=120)

# --- strategies -------------------------------------------------------------------------------

CONTROLS = "\x00\x01\x08\t\n\r\x0b\x1b\x7f\x85\u2028\u2029"
hostile_text = st.text(
    alphabet=st.characters(codec="utf-8") | st.sampled_from(CONTROLS), max_size=30
)
# Digits that str.isdigit() takes and int() does not, and digits of other scripts that int() takes.
odd_digits = st.text(
    alphabet="0123456789\u00b2\u00b3\u00b9\u0663\u0664\u0a67\U0001d7d7", min_size=1, max_size=25
)
numbers = st.integers(-(10**30), 10**30).map(str)
# Dates at and past the ends of the calendar and of the forms' range, and ones that only look like
# dates (the last in full-width digits).
ODD_DAYS = [
    "0001-01-01", "9999-12-31", "9999-12-30", "10000-01-01", "2026-02-30", "2026-13-01",
    "1999-12-31", "2000-01-01", "2999-12-31", "3000-01-01", "31/12/9999", "2026-1-1",
    "2026-01-01T00:00", "-2026-01-01", "\uff12\uff10\uff12\uff16-01-01",
]  # fmt: skip
days = st.one_of(st.dates().map(lambda day: day.isoformat()), st.sampled_from(ODD_DAYS))
refs = st.sampled_from([CONSUMER_REF, ORDER_REF, CONSUMER_REF.upper(), f"https://x/v2/{ORDER_REF}"])
value = st.one_of(hostile_text, odd_digits, numbers, days, refs, st.just(""), st.just("x" * 5000))


def query(names: dict) -> st.SearchStrategy[dict]:
    """Some of `names` (each with its own values, or anything), maybe repeated, maybe unknown."""
    unknown = st.dictionaries(hostile_text.filter(bool), value, max_size=2)
    if not names:
        return unknown
    known = st.fixed_dictionaries(
        {}, optional={name: (values | value) for name, values in names.items()}
    )
    repeated = st.dictionaries(st.sampled_from(sorted(names)), st.lists(value, max_size=3))
    return st.one_of(known, known, repeated, st.builds(lambda a, b: {**b, **a}, known, unknown))


AUDIT = {
    "q": value,
    "consumer_ref": refs,
    "order_ref": refs,
    "user": st.sampled_from(["agent", "supervisor"]),
    "date_from": days,
    "date_to": days,
    "field": st.sampled_from(["", "title", "last_name", "api_token"]),
    "action": st.sampled_from(["", *AuditEntry.Action.values]),
    "outcome": st.sampled_from(["", *AuditEntry.Outcome.values]),
    "before": odd_digits | numbers,
    "after": odd_digits | numbers,
}
DASHBOARD = {"date_from": days, "date_to": days}
FIND = {"q": value}
HOME = {"kind": st.sampled_from(["name", "consumer", "order"]), "q": value}


# --- checks -----------------------------------------------------------------------------------


@pytest.fixture
def supervisor_get(client, supervisor, agent):
    """GET as a signed-in supervisor, over a log with a few entries to filter."""
    client.force_login(supervisor)
    meta = RequestMeta(ip_address="203.0.113.7", request_id="fuzz")
    for outcome in ("succeeded", "failed", "pending"):
        audit_entry_create(
            user=agent, meta=meta, action="edit", outcome=outcome, consumer_ref=CONSUMER_REF,
            order_ref=ORDER_REF, changes={"last_name": ("Old", "New")},
        )  # fmt: skip
    entries = AuditEntry.objects.count()

    def get(url: str, params: dict):
        response = client.get(url, params)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert response.status_code < 500, body[:2000]
        assert b"Traceback" not in body
        assert AuditEntry.objects.count() == entries  # a GET writes nothing to the log
        event(f"HTTP {response.status_code}")
        return response

    return get


@MANY
@given(params=query(AUDIT))
@example(params={"before": "²"})
@example(params={"after": "²"})
@example(params={"before": "9" * 30})
@example(params={"date_from": "0001-01-01"})
@example(params={"date_to": "9999-12-31"})
def test_the_audit_list_takes_any_query(supervisor_get, params):
    response = supervisor_get(reverse("audit:list"), params)

    assert response.status_code == 200
    if response.context["form"].errors:
        assert response.context["entries"] == []


@MANY
@given(params=query(AUDIT))
@example(params={"date_to": "9999-12-31"})
@example(params={"date_from": "0001-01-01"})
def test_the_export_takes_any_query(supervisor_get, params):
    response = supervisor_get(reverse("audit:export"), params)

    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert "Not exported: correct the filters first." in response.content.decode()


@MANY
@given(params=query(DASHBOARD))
@example(params={"date_from": "9999-12-30", "date_to": "9999-12-31"})
@example(params={"date_to": "0001-01-05"})
def test_the_dashboard_takes_any_query(supervisor_get, params):
    response = supervisor_get(reverse("dashboard:dashboard"), params)

    assert response.status_code == 200


@FEW
@given(params=query({}))
def test_the_queue_takes_any_query(supervisor_get, params):
    assert supervisor_get(reverse("consumers:queue"), params).status_code == 200


@FEW
@given(params=query(FIND))
def test_the_search_box_takes_any_query(supervisor_get, params):
    assert supervisor_get(reverse("consumers:find"), params).status_code in (200, 302)


@FEW
@given(params=query(HOME))
def test_the_home_pages_lookup_takes_any_query(supervisor_get, params):
    assert supervisor_get(reverse("consumers:home"), params).status_code in (200, 302)


@pytest.mark.parametrize(
    "url",
    [
        "/admin/audit/auditentry/?action_time__year=9999",
        "/admin/audit/auditentry/?action_time__year=9999&action_time__month=12",
        "/admin/audit/auditentry/?action_time__year=9999&action_time__month=12&action_time__day=31",
        "/admin/consumers/orderconsumer/?fetched_at__year=9999",
        "/admin/axes/accessattempt/?attempt_time__year=9999",
    ],
)
def test_the_admins_date_drill_down_refuses_the_last_year_there_is(client, administrator, url):
    client.force_login(administrator)

    response = client.get(url)

    # The admin's answer to a lookup it cannot make: the unfiltered list, flagged ?e=1.
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")
