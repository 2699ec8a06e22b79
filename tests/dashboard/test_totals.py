"""The dashboard's figures add up: every save counts once, as what finally happened, and the cards,
rates, chart series, tables and the audit entries behind each row tell the same story."""

import re
from datetime import UTC, datetime, time, timedelta
from html import unescape
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from audit.services import RequestMeta, audit_entry_create
from dashboard.models import RolledUpDay
from dashboard.services import dashboard_figures

META = RequestMeta(ip_address="203.0.113.3", user_agent="pytest")


class Log:
    """Writes audit entries in time order, as the app does, each at a chosen moment."""

    def __init__(self):
        self.today = timezone.now().astimezone(UTC).date()
        self.second = 0

    def at(self, days_ago: int) -> datetime:
        # A second apart, from the day's start: in the past even for today's entries.
        self.second += 1
        day = self.today - timedelta(days=days_ago)
        return datetime.combine(day, time.min, tzinfo=UTC) + timedelta(seconds=self.second)

    def write(self, user, outcome, days_ago, field="last_name", action="edit", supersedes=None):
        entry = audit_entry_create(
            user=user, meta=META, action=action, outcome=outcome, consumer_ref="c",
            changes={field: ("old", "new")}, supersedes=supersedes,
        )  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE audit_auditentry SET action_time = %s WHERE id = %s",
                [self.at(days_ago), entry.pk],
            )
        return entry


def table(html: str, testid: str) -> str:
    """The HTML inside the table with this test id."""
    found = re.search(rf'data-testid="{testid}">(.*?)</table>', html, re.S)
    assert found, f"no table {testid} on the page"
    return found.group(1)


def rows(html: str, testid: str) -> list[list[str]]:
    """The cells of a table on the page, as text."""
    body = table(html, testid).split("<tbody>")[1]
    return [
        [
            unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<td>(.*?)</td>", r)
        ]
        for r in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def links(html: str, testid: str) -> list[str]:
    return [unescape(href) for href in re.findall(r'href="([^"]+)"', table(html, testid))]


def listed(client, href: str) -> int:
    """How many entries the audit log lists behind a dashboard link."""
    response = client.get(href)
    assert response.status_code == 200
    assert response.context["older"] is None  # all on one page
    return len(response.context["entries"])


@pytest.fixture
def mix(agent, supervisor):
    """A week of saves of every kind; P3, queued four days ago, is still waiting."""
    log = Log()
    # Five days ago (a closed day, rolled up).
    log.write(agent, "succeeded", 5)
    log.write(agent, "succeeded", 5)
    log.write(agent, "failed", 5, field="title")
    log.write(supervisor, "succeeded", 5, field="first_name", action="revert")
    p1 = log.write(agent, "pending", 5)
    p2 = log.write(agent, "pending", 5, field="gender")
    log.write(agent, "failed", 5, field="gender", supersedes=p2)  # queued, then failed
    # Four days ago (closed): P1 delivered, a conflict, and P3 queued.
    log.write(agent, "succeeded", 4, supersedes=p1)
    log.write(supervisor, "conflict", 4)
    p3 = log.write(agent, "pending", 4, field="title")
    # Yesterday (open): a direct save, P4 still queued, P5 and P6 queued.
    log.write(agent, "succeeded", 1, field="title")
    log.write(supervisor, "pending", 1)  # P4, still queued at the end
    p5 = log.write(agent, "pending", 1, field="first_name")
    p6 = log.write(agent, "pending", 1)
    # Today: P5 found in conflict by the worker, P6 cancelled; and things that are not saves.
    log.write(agent, "conflict", 0, field="first_name", supersedes=p5)
    log.write(supervisor, "succeeded", 0, action="cancel", supersedes=p6)
    audit_entry_create(user=agent, meta=META, action="sign_in", outcome="succeeded")
    return {"log": log, "p3": p3}


def test_every_figure_counts_each_save_once_as_it_ended(client, supervisor, agent, mix):
    log = mix["log"]
    week = {"date_from": log.today - timedelta(days=6), "date_to": log.today}
    call_command("rollup_dashboard", stdout=StringIO())  # the periodic job
    before = dashboard_figures(**week)
    # P3 counts as queued on its day, which is already rolled up...
    assert RolledUpDay.objects.filter(day=log.today - timedelta(days=4)).exists()
    assert before.per_period[2]["pending"] == 1
    # ...until the worker delivers it today: then it counts once, today, as succeeded.
    log.write(agent, "succeeded", 0, field="title", supersedes=mix["p3"])
    client.force_login(supervisor)

    response = client.get(reverse("dashboard:dashboard"), week)

    figures, page = response.context["figures"], response.content.decode()
    # Hand counts (see the fixture): day by day, oldest first.
    assert figures.period == "day"
    assert [
        (row["succeeded"], row["failed"], row["conflict"], row["pending"], row["total"])
        for row in figures.per_period
    ] == [(0, 0, 0, 0, 0), (3, 2, 0, 0, 5), (1, 0, 1, 0, 2), (0, 0, 0, 0, 0), (0, 0, 0, 0, 0),
          (1, 0, 0, 1, 2), (1, 0, 1, 0, 2)]  # fmt: skip
    assert {k: figures.rates[k] for k in ("total", "settled", *("succeeded", "failed"))} == {
        "total": 11, "settled": 10, "succeeded": 6, "failed": 2,
    }  # fmt: skip
    assert (figures.rates["conflict"], figures.rates["pending"]) == (2, 1)
    assert (figures.rates["failure_rate"], figures.rates["conflict_rate"]) == (0.2, 0.2)
    assert [(r["username"], r["total"], r["succeeded"], r["failed"], r["conflict"], r["pending"])
            for r in figures.per_agent] == [("agent", 8, 5, 2, 1, 0),
                                            ("supervisor", 3, 1, 0, 1, 1)]  # fmt: skip
    assert [(r["field"], r["changes"]) for r in figures.fields] == [
        ("last_name", 5), ("title", 3), ("first_name", 2), ("gender", 1),
    ]  # fmt: skip
    # The cards say the same.
    assert 'data-testid="saves">11<' in page
    assert "6 reached CDP; 1 still queued" in page
    assert 'data-testid="rates">20% / 20%<' in page
    assert "2 failed, 2 conflicts of 10 settled" in page
    # So do the chart's series, and they add up to the cards.
    series = response.context["charts"]["series"]
    assert [[s[o] for o in ("succeeded", "failed", "conflict", "pending")] for s in series] == [
        [row[o] for o in ("succeeded", "failed", "conflict", "pending")]
        for row in figures.per_period
    ]
    assert sum(s["succeeded"] + s["failed"] + s["conflict"] + s["pending"] for s in series) == 11
    assert sum(row["total"] for row in response.context["charts"]["perAgent"]) == 11
    # And the tables beside the charts.
    assert rows(page, "per-period")[1] == [
        str(log.today - timedelta(days=5)),
        "5",
        "3",
        "2",
        "0",
        "0",
    ]
    assert rows(page, "per-agent") == [
        ["agent", "8", "5", "2", "1", "0"], ["supervisor", "3", "1", "0", "1", "1"],
    ]  # fmt: skip
    assert rows(page, "fields")[0] == ["Last name", "5"]
    # Each row opens exactly the audit entries it counts.
    for href, row in zip(links(page, "per-period"), figures.per_period, strict=True):
        assert listed(client, href) == row["total"], href
    for href, row in zip(links(page, "per-agent"), figures.per_agent, strict=True):
        assert listed(client, href) == row["total"], href
    for href, row in zip(links(page, "fields"), figures.fields, strict=True):
        assert listed(client, href) == row["changes"], href


def test_the_counts_follow_the_audit_log_whatever_the_range(client, supervisor, mix):
    log = mix["log"]
    saves = AuditEntry.objects.filter(action__in=["edit", "revert"])
    # What the audit log says finally happened: every save entry no later entry settled.
    final = saves.filter(superseded_by__isnull=True)

    for days in (0, 1, 4, 6):
        figures = dashboard_figures(date_from=log.today - timedelta(days=days), date_to=log.today)
        start = datetime.combine(log.today - timedelta(days=days), time.min, tzinfo=UTC)
        in_range = final.filter(action_time__gte=start)
        assert figures.rates["total"] == in_range.count()
        for outcome in ("succeeded", "failed", "conflict", "pending"):
            assert figures.rates[outcome] == in_range.filter(outcome=outcome).count()


# --- grouping ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "period"),
    [(1, "day"), (90, "day"), (91, "week"), (365, "week"), (366, "week"), (367, "month"),
     (731, "month")],
)  # fmt: skip
def test_up_to_90_days_show_each_day_up_to_a_year_each_week_and_longer_each_month(db, days, period):
    today = timezone.now().date()

    figures = dashboard_figures(date_from=today - timedelta(days=days - 1), date_to=today)

    assert figures.period == period
    covered = sum((row["date_to"] - row["date_from"]).days + 1 for row in figures.per_period)
    assert covered == days  # the rows cover the range, each day once


def test_a_year_groups_by_iso_week_clipped_to_the_range_and_links_follow(client, supervisor, agent):
    log = Log()
    # Two saves in the range's first (partial) week and one in the last, a year apart.
    date_from = log.today - timedelta(days=364)
    sunday = date_from + timedelta(days=7 - date_from.isoweekday())  # of the range's first week
    log.write(agent, "succeeded", (log.today - sunday).days)
    log.write(agent, "failed", (log.today - sunday).days, field="title")
    log.write(agent, "succeeded", 0)
    client.force_login(supervisor)

    response = client.get(
        reverse("dashboard:dashboard"), {"date_from": date_from, "date_to": log.today}
    )

    figures, page = response.context["figures"], response.content.decode()
    first, last = figures.per_period[0], figures.per_period[-1]
    year, week, _ = date_from.isocalendar()
    assert first["label"] == f"{year}-W{week:02d}"
    assert first["date_from"] == date_from  # the week's days before the range are left out
    assert first["date_to"].isoweekday() == 7
    assert (first["succeeded"], first["failed"], first["total"]) == (1, 1, 2)
    assert last["date_to"] == log.today
    assert last["total"] == 1
    labels = [row["label"] for row in figures.per_period]
    assert labels == sorted(set(labels))  # one row per week, in order
    assert '<th scope="col">Week</th>' in page
    assert 'aria-label="Saves per week by outcome' in page
    hrefs = links(page, "per-period")
    assert f"date_from={date_from}&date_to={first['date_to']}" in hrefs[0]
    assert listed(client, hrefs[0]) == 2
    assert listed(client, hrefs[-1]) == 1


def test_two_years_group_by_month(client, supervisor, agent):
    log = Log()
    date_from = log.today.replace(day=1) - timedelta(days=600)
    log.write(agent, "succeeded", (log.today - date_from).days)
    client.force_login(supervisor)

    response = client.get(
        reverse("dashboard:dashboard"), {"date_from": date_from, "date_to": log.today}
    )

    figures = response.context["figures"]
    assert figures.period == "month"
    assert figures.per_period[0]["label"] == f"{date_from:%Y-%m}"
    assert figures.per_period[0]["total"] == 1
    assert figures.per_period[-1]["label"] == f"{log.today:%Y-%m}"
    assert '<th scope="col">Month</th>' in response.content.decode()
    href = links(response.content.decode(), "per-period")[0]
    assert listed(client, href) == 1
