"""Supervisors read, filter and export the audit log (reverting a change: consumers' pages,
tests/consumers/test_views_revert.py)."""

import csv
import io
import tracemalloc
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.urls import reverse

from audit import services as audit_services
from audit.models import AuditEntry, FieldChange
from audit.services import RequestMeta, audit_entry_create
from consumers import pushes, services
from tests.conftest import CONSUMER_REF, ORDER_REF, OTHER_CONSUMER_REF

META = RequestMeta(ip_address="203.0.113.9", user_agent="pytest", request_id="audit-view")


def edit(consumer_ref, user, reason="", **changes):
    consumer = services.consumer_fetch(ref=consumer_ref)
    data = {**consumer.editable_values(), **changes}
    return pushes.consumer_push_update(
        consumer=consumer,
        data=data,
        loaded_modified_at=consumer.cdp_modified_at,
        user=user,
        meta=META,
        reason=reason,
    )


@pytest.fixture
def supervisor_client(client, supervisor):
    client.force_login(supervisor)
    return client


def listed(response) -> list[int]:
    return [entry["sequence"] for entry in response.context["entries"]]


def test_agents_cannot_read_the_audit_log(agent_client):
    assert agent_client.get(reverse("audit:list")).status_code == 403
    assert agent_client.get(reverse("audit:export")).status_code == 403


def test_it_lists_entries_newest_first_with_who_what_and_the_outcome(supervisor_client, agent):
    edit(CONSUMER_REF, agent, last_name="Beirne", reason="Passport shows Beirne")

    response = supervisor_client.get(reverse("audit:list"), {"action": "edit"})

    content = response.content.decode()
    assert response.status_code == 200
    assert "agent" in content
    assert "Last name" in content
    assert '<span class="diff-old">Byrne</span> → <span class="diff-new">Beirne</span>' in content
    assert "Succeeded" in content
    assert "Passport shows Beirne" in content


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"consumer_ref": CONSUMER_REF}, ["Beirne", "Liam-Óg"]),
        ({"consumer_ref": OTHER_CONSUMER_REF}, ["Clarke-Hughes"]),
        ({"order_ref": ORDER_REF}, ["Beirne", "Liam-Óg"]),
        ({"user": "supervisor"}, ["Clarke-Hughes"]),
        ({"field": "first_name"}, ["Liam-Óg"]),
        ({"outcome": "failed"}, []),
        ({"q": "clarke"}, ["Clarke-Hughes"]),
        ({"q": "typo"}, ["Beirne"]),
        ({"q": CONSUMER_REF}, ["Beirne", "Liam-Óg"]),
    ],
)
def test_it_filters_entries(supervisor_client, agent, supervisor, filters, expected):
    edit(CONSUMER_REF, agent, last_name="Beirne", reason="typo on booking")
    edit(CONSUMER_REF, agent, first_name="Liam-Óg")
    edit(OTHER_CONSUMER_REF, supervisor, last_name="Clarke-Hughes")

    response = supervisor_client.get(reverse("audit:list"), {**filters, "action": "edit"})

    new_values = [new for entry in response.context["entries"] for _, _, new in entry["changes"]]
    assert sorted(new_values) == sorted(expected)


def test_it_filters_by_date_range_in_utc(supervisor_client, agent):
    old = audit_entry_create(
        user=agent, meta=META, action="edit", outcome="succeeded", object_repr="Old one"
    )
    new = audit_entry_create(
        user=agent, meta=META, action="edit", outcome="succeeded", object_repr="New one"
    )
    # Dates are set through raw SQL because entries refuse updates.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditentry SET action_time = %s WHERE id = %s",
            [datetime(2026, 1, 10, 23, 59, tzinfo=UTC), old.pk],
        )
        cursor.execute(
            "UPDATE audit_auditentry SET action_time = %s WHERE id = %s",
            [datetime(2026, 1, 11, 0, 0, tzinfo=UTC), new.pk],
        )

    only_new = supervisor_client.get(
        reverse("audit:list"), {"date_from": "2026-01-11", "action": "edit"}
    )
    only_old = supervisor_client.get(
        reverse("audit:list"), {"date_to": "2026-01-10", "action": "edit"}
    )
    reversed_dates = supervisor_client.get(
        reverse("audit:list"), {"date_from": "2026-01-12", "date_to": "2026-01-11"}
    )

    assert listed(only_new) == [new.sequence]
    assert listed(only_old) == [old.sequence]
    assert "The From date is after the To date." in reversed_dates.content.decode()


def test_it_pages_by_sequence_without_counting_the_table(
    supervisor_client, agent, django_assert_max_num_queries
):
    for number in range(120):
        audit_entry_create(
            user=agent, meta=META, action="edit", outcome="succeeded", object_repr=f"n{number}"
        )
    newest = AuditEntry.objects.latest("sequence").sequence

    first = supervisor_client.get(reverse("audit:list"), {"action": "edit"})
    second = supervisor_client.get(
        reverse("audit:list"), {"action": "edit", "before": first.context["older"]}
    )
    back = supervisor_client.get(
        reverse("audit:list"), {"action": "edit", "after": second.context["newer"]}
    )

    assert listed(first) == list(range(newest, newest - 50, -1))
    assert listed(second) == list(range(newest - 50, newest - 100, -1))
    assert listed(back) == listed(first)
    assert first.context["newer"] is None
    # Session, user, permissions (2), roles, the CDP connection (banner), the navigation's
    # notifications and approval badges, the page of entries, their changes, and the session's
    # idle-timeout refresh (BEGIN, UPDATE, COMMIT): no COUNT of the audit log.
    with django_assert_max_num_queries(13):
        supervisor_client.get(reverse("audit:list"), {"before": first.context["older"]})


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            {"before": "\u00b2"},
            "This page link is broken",
        ),  # a digit to str.isdigit(), not to int()
        ({"after": "\u00b2"}, "This page link is broken"),
        ({"before": "9" * 30}, "This page link is broken"),  # past a bigint on PostgreSQL
        ({"after": "-1"}, "This page link is broken"),
        ({"date_from": "0001-01-01"}, "Enter a date from 2000-01-01 to 2999-12-31."),
        ({"date_to": "9999-12-31"}, "Enter a date from 2000-01-01 to 2999-12-31."),
        ({"date_from": "1999-12-31", "date_to": "3000-01-01"}, "Enter a date from 2000-01-01"),
    ],
)
def test_bad_filters_and_page_links_are_explained_and_list_nothing_wrong(
    supervisor_client, agent, query, message
):
    audit_entry_create(user=agent, meta=META, action="edit", outcome="succeeded")
    newest_page = listed(supervisor_client.get(reverse("audit:list")))

    response = supervisor_client.get(reverse("audit:list"), query)

    assert response.status_code == 200
    assert message in response.content.decode()
    if "before" in query or "after" in query:
        assert listed(response) == newest_page
    else:
        assert listed(response) == []  # not the whole log, as if nothing had been asked


@pytest.mark.parametrize("query", [{"date_to": "9999-12-31"}, {"date_from": "0001-01-01"}])
def test_an_export_with_bad_filters_exports_nothing_and_says_why(supervisor_client, agent, query):
    audit_entry_create(user=agent, meta=META, action="edit", outcome="succeeded")

    response = supervisor_client.get(reverse("audit:export"), query)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Not exported: correct the filters first." in page
    assert "Enter a date from 2000-01-01 to 2999-12-31." in page


def test_the_search_copes_with_the_first_and_last_days_there_are(agent):
    entry = audit_entry_create(user=agent, meta=META, action="edit", outcome="succeeded")

    entries = audit_services.audit_entry_search(
        filters={"date_from": date.min, "date_to": date.max}
    )

    assert list(entries) == [entry]


def test_the_detail_page_shows_everything_about_an_entry(supervisor_client, agent):
    result = edit(CONSUMER_REF, agent, last_name="Beirne", reason="typo")

    content = supervisor_client.get(
        reverse("audit:detail", args=[result.entry.pk])
    ).content.decode()

    for text in (
        "203.0.113.9",
        "pytest",
        "audit-view",
        "Mr Liam Beirne" if False else "Liam Byrne",
        "typo",
        result.entry.entry_hash,
        "Revert this change",
    ):
        assert text in content


def test_the_consumer_page_shows_its_history_with_links_for_supervisors(supervisor_client, agent):
    result = edit(CONSUMER_REF, agent, last_name="Beirne")

    content = supervisor_client.get(
        reverse("consumers:detail", args=[CONSUMER_REF])
    ).content.decode()

    assert reverse("audit:detail", args=[result.entry.pk]) in content
    assert f"?consumer_ref={CONSUMER_REF}" in content


# --- export -------------------------------------------------------------------------------------


def exported(client, **filters) -> list[dict]:
    response = client.get(reverse("audit:export"), filters)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_the_export_has_a_row_per_changed_field_with_every_column(supervisor_client, agent):
    result = edit(CONSUMER_REF, agent, last_name="Beirne", title="Dr", reason="typo")

    rows = exported(supervisor_client, action="edit")

    assert {(r["field"], r["old_value"], r["new_value"]) for r in rows} == {
        ("last_name", "Byrne", "Beirne"),
        ("title", "Mr", "Dr"),
    }
    row = rows[0]
    assert row["sequence"] == str(result.entry.sequence)
    assert (row["user"], row["ip_address"], row["user_agent"], row["request_id"]) == (
        "agent",
        "203.0.113.9",
        "pytest",
        "audit-view",
    )
    assert (
        row["action"],
        row["outcome"],
        row["consumer_ref"],
        row["order_ref"],
        row["reason"],
    ) == ("edit", "succeeded", CONSUMER_REF, ORDER_REF, "typo")
    assert row["entry_hash"] == result.entry.entry_hash


def test_the_export_follows_the_filters(supervisor_client, agent):
    edit(CONSUMER_REF, agent, last_name="Beirne")
    edit(OTHER_CONSUMER_REF, agent, last_name="Clarke-Hughes")

    rows = exported(supervisor_client, consumer_ref=OTHER_CONSUMER_REF)

    assert [r["new_value"] for r in rows] == ["Clarke-Hughes"]


def test_the_export_defuses_spreadsheet_formulas(supervisor_client, agent):
    audit_entry_create(
        user=agent,
        meta=META,
        action="edit",
        outcome="succeeded",
        reason='=HYPERLINK("http://evil")',
        changes={"last_name": ("a", "+1+1")},
    )

    [row] = exported(supervisor_client, action="edit")

    assert row["reason"].startswith("'=")
    assert row["new_value"] == "'+1+1"


def _seed_entries(user, first_sequence: int, count: int) -> None:
    """Insert entries in bulk, bypassing the chain (only the export is under test here)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for offset in range(0, count, 5_000):
        entries = AuditEntry.objects.bulk_create(
            AuditEntry(
                sequence=first_sequence + offset + number,
                action_time=start + timedelta(minutes=offset + number),
                user=user,
                username=user.username,
                action="edit",
                outcome="succeeded",
                consumer_ref=f"c-{number}",
                object_repr=f"Traveller {number}",
                reason="bulk " * 20,
                prev_hash="0" * 64,
                entry_hash="0" * 64,
            )
            for number in range(min(5_000, count - offset))
        )
        FieldChange.objects.bulk_create(
            FieldChange(
                entry=entry, field="last_name", old_value="Before " * 5, new_value="After " * 5
            )
            for entry in entries
        )


def _peak_memory_of_export(client) -> tuple[int, int]:
    response = client.get(reverse("audit:export"))
    tracemalloc.start()
    rows = sum(chunk.count(b"\n") for chunk in response.streaming_content)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return rows, peak


def test_a_large_export_streams_in_bounded_memory(supervisor_client, supervisor):
    _seed_entries(supervisor, 1_000, 5_000)
    small_rows, small_peak = _peak_memory_of_export(supervisor_client)
    _seed_entries(supervisor, 10_000, 25_000)

    large_rows, large_peak = _peak_memory_of_export(supervisor_client)

    assert large_rows == small_rows + 25_000
    # Six times the rows take about the same memory: it streams chunk by chunk.
    assert large_peak < small_peak * 1.25, (small_peak, large_peak)


def test_credential_changes_are_filtered_and_labelled_like_consumer_changes(
    supervisor_client, administrator
):
    audit_entry_create(
        user=administrator,
        meta=META,
        action=AuditEntry.Action.CREDENTIALS,
        outcome="succeeded",
        object_repr="CDP connection EU production",
        changes={"api_token": ("fingerprint 111111111111", "fingerprint 222222222222")},
    )

    response = supervisor_client.get(reverse("audit:list"), {"field": "api_token"})

    assert [entry["record"] for entry in response.context["entries"]] == [
        "CDP connection EU production"
    ]
    assert "<strong>API token</strong>" in response.content.decode()
