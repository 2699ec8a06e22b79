"""The supervisors' dashboard: saves per day and agent, rates, fields, the queue, CDP's health."""

from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from audit.services import RequestMeta, audit_entry_create
from consumers.models import Push
from dashboard.models import DailySaves, RolledUpDay
from dashboard.services import dashboard_figures

META = RequestMeta(ip_address="203.0.113.3", user_agent="pytest")


def save(user, outcome, field="last_name", when=None):
    entry = audit_entry_create(
        user=user, meta=META, action=AuditEntry.Action.EDIT, outcome=outcome,
        consumer_ref="c", changes={field: ("a", "b")},
    )  # fmt: skip
    if when:
        with connection.cursor() as cursor:
            sql = "UPDATE audit_auditentry SET action_time = %s WHERE id = %s"
            cursor.execute(sql, [when, entry.pk])
    return entry


def test_it_counts_saves_per_day_and_per_agent_with_their_outcomes(agent, supervisor):
    today = timezone.now().date()
    morning = datetime.combine(today, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    save(agent, "succeeded", when=morning)
    save(agent, "failed", field="title", when=morning)
    save(supervisor, "conflict", when=morning - timedelta(days=1))
    save(agent, "succeeded", when=morning - timedelta(days=30))  # outside the range

    figures = dashboard_figures(date_from=today - timedelta(days=6), date_to=today)

    days = {row["label"]: row for row in figures.per_period}
    assert len(figures.per_period) == 7
    assert (days[today.isoformat()]["succeeded"], days[today.isoformat()]["failed"]) == (1, 1)
    assert days[(today - timedelta(days=1)).isoformat()]["conflict"] == 1
    agents = [(row["username"], row["total"]) for row in figures.per_agent]
    assert agents == [("agent", 2), ("supervisor", 1)]
    assert figures.rates["total"] == 3
    assert round(figures.rates["failure_rate"], 2) == 0.33
    assert [(row["label"], row["changes"]) for row in figures.fields] == [
        ("Last name", 2),
        ("Title", 1),
    ]


def test_it_shows_the_queue_and_cdps_health_from_the_saves(agent):
    now = timezone.now()
    Push.objects.create(
        consumer_ref="c",
        user=agent,
        status=Push.Status.PENDING,
        attempt_started_at=now,
        queued_at=now,
    )
    started, finished = now - timedelta(seconds=1), now - timedelta(milliseconds=880)
    Push.objects.create(
        consumer_ref="c", user=agent, status=Push.Status.SUCCEEDED,
        attempt_started_at=started, finished_at=finished,
    )  # fmt: skip

    figures = dashboard_figures(date_from=now.date(), date_to=now.date())

    assert figures.queue["waiting"] == 1
    assert figures.cdp["tries"] == 2
    assert figures.cdp["error_rate"] == 0.5
    assert 100 <= figures.cdp["median_ms"] <= 140


def test_the_page_draws_charts_with_the_numbers_one_click_away(client, supervisor, agent):
    save(agent, "succeeded")
    client.force_login(supervisor)

    response = client.get(reverse("dashboard:dashboard"))

    content = response.content.decode()
    assert response.status_code == 200
    assert 'id="dashboard-data" type="application/json"' in content
    assert 'data-testid="per-agent"' in content
    assert "<summary>The numbers</summary>" in content
    assert "chart.umd.min.js" in content


def test_a_reversed_range_is_explained(client, supervisor):
    client.force_login(supervisor)

    response = client.get(
        reverse("dashboard:dashboard"), {"date_from": "2026-02-01", "date_to": "2026-01-01"}
    )

    assert "The From date is after the To date." in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {"date_from": "9999-12-30", "date_to": "9999-12-31"},
        {"date_to": "0001-01-05"},  # the default start, two weeks before, is before year 1
        {"date_from": "0001-01-01", "date_to": "0001-01-02"},
        {"date_from": "1999-12-31"},
    ],
)
def test_dates_out_of_range_are_explained_and_the_default_range_shown(client, supervisor, query):
    client.force_login(supervisor)
    today = timezone.now().date()

    response = client.get(reverse("dashboard:dashboard"), query)

    assert response.status_code == 200
    assert "Enter a date from 2000-01-01 to 2999-12-31." in response.content.decode()
    assert (response.context["figures"].date_from, response.context["figures"].date_to) == (
        today - timedelta(days=13),
        today,
    )


def test_the_figures_cope_with_the_last_days_there_are(agent):
    figures = dashboard_figures(date_from=date.max - timedelta(days=1), date_to=date.max)

    assert figures.rates["total"] == 0


def test_the_date_fields_show_the_range_on_show(client, supervisor):
    client.force_login(supervisor)
    today = timezone.now().date()

    page = client.get(reverse("dashboard:dashboard")).content.decode()

    assert f'name="date_from" value="{today - timedelta(days=13):%Y-%m-%d}"' in page
    assert f'name="date_to" value="{today:%Y-%m-%d}"' in page


def test_each_number_leads_to_the_audit_entries_behind_it(client, supervisor, agent):
    client.force_login(supervisor)
    title = save(agent, "succeeded", field="title")
    save(agent, "succeeded", field="last_name")
    today = timezone.now().date()
    since = today - timedelta(days=13)

    page = client.get(reverse("dashboard:dashboard")).content.decode()
    audit = reverse("audit:list")

    saves = f"{audit}?action=saves&amp;final=1"
    assert f'href="{saves}&amp;date_from={today}&amp;date_to={today}">{today}</a>' in page
    assert (
        f'href="{saves}&amp;field=title&amp;date_from={since}&amp;date_to={today}">Title</a>'
        in page
    )
    assert (
        f'href="{saves}&amp;user=agent&amp;date_from={since}&amp;date_to={today}">agent</a>' in page
    )
    # and the audit log takes those filters
    response = client.get(
        audit,
        {"action": "saves", "final": "1", "field": "title", "date_from": since, "date_to": today},
    )
    assert len(response.context["entries"]) == 1
    assert f'href="{reverse("audit:detail", args=[title.pk])}"' in response.content.decode()


def test_preset_ranges_are_one_click_away_and_the_one_on_show_is_marked(client, supervisor):
    client.force_login(supervisor)
    today = timezone.now().date()

    page = client.get(reverse("dashboard:dashboard")).content.decode()

    week = f"?date_from={today - timedelta(days=6):%Y-%m-%d}&amp;date_to={today:%Y-%m-%d}"
    assert f'href="{week}">7 days</a>' in page
    two_weeks = f"?date_from={today - timedelta(days=13):%Y-%m-%d}&amp;date_to={today:%Y-%m-%d}"
    assert f'aria-current="page" href="{two_weeks}">14 days</a>' in page
    assert page.count('aria-current="page" href="?date_from') == 1


def test_the_dashboard_runs_a_fixed_number_of_queries_whatever_the_data(client, supervisor, agent):
    client.force_login(supervisor)
    url = reverse("dashboard:dashboard")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(20):
        save(agent, "succeeded")
    with CaptureQueriesContext(connection) as many:
        client.get(url)

    assert len(many) == len(few)


def test_agents_cannot_see_the_dashboard(agent_client):
    assert agent_client.get(reverse("dashboard:dashboard")).status_code == 403


def test_days_that_are_over_are_counted_once_and_then_read_from_daily_totals(agent, supervisor):
    today = timezone.now().date()
    noon = datetime.combine(today, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    save(agent, "succeeded", when=noon - timedelta(days=5))
    save(agent, "failed", field="title", when=noon - timedelta(days=5))
    save(supervisor, "conflict", when=noon - timedelta(days=3))
    save(agent, "succeeded", when=noon - timedelta(days=1))  # yesterday: still open
    week = {"date_from": today - timedelta(days=6), "date_to": today}

    # The periodic job; from the range's start, so the quiet day before the first save is stored.
    call_command("rollup_dashboard", "--from", str(week["date_from"]), stdout=StringIO())
    first = dashboard_figures(**week)

    closed = sorted(RolledUpDay.objects.values_list("day", flat=True))
    assert closed == [today - timedelta(days=n) for n in range(6, 1, -1)]  # quiet days too
    assert DailySaves.objects.filter(day=today - timedelta(days=5)).count() == 2
    assert first.rates["total"] == 4
    # A day that is over is not counted again: an entry dated into it now is not seen...
    save(agent, "succeeded", when=noon - timedelta(days=4))
    # ...while yesterday and today are counted from the entries every time.
    save(agent, "succeeded", when=noon)
    second = dashboard_figures(**week)
    assert second.rates["total"] == 5
    assert [(row["username"], row["total"]) for row in second.per_agent] == [
        ("agent", 4),
        ("supervisor", 1),
    ]
    assert [(row["label"], row["changes"]) for row in second.fields] == [
        ("Last name", 4),
        ("Title", 1),
    ]


def test_rolling_a_day_up_twice_keeps_one_copy_of_its_totals(agent):
    old_day = timezone.now().date() - timedelta(days=10)
    save(agent, "succeeded", when=datetime.combine(old_day, datetime.min.time(), tzinfo=UTC))
    call_command("rollup_dashboard", stdout=StringIO())
    RolledUpDay.objects.all().delete()  # as if a second run raced the first

    call_command("rollup_dashboard", stdout=StringIO())
    figures = dashboard_figures(date_from=old_day, date_to=old_day)

    assert DailySaves.objects.get().saves == 1
    assert figures.rates["total"] == 1
