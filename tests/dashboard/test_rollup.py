"""The daily totals are stored by the periodic job (`rollup_dashboard`), never by a page view:
the page reads the stored days and counts only the others from their entries."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dashboard.models import DailyFieldChanges, DailySaves, RolledUpDay
from dashboard.services import dashboard_figures
from tests.dashboard.test_totals import Log

TABLES = (RolledUpDay, DailySaves, DailyFieldChanges)


def roll_up(*args: str) -> str:
    out = StringIO()
    call_command("rollup_dashboard", *args, stdout=out)
    return out.getvalue()


def stored() -> list:
    return [sorted(map(str, model.objects.all())) for model in TABLES]


@pytest.fixture
def year(agent, supervisor):
    """A year of saves of every kind, settled and queued, some settled days later."""
    log = Log()
    for days_ago in range(360, 0, -7):
        log.write(agent, "succeeded", days_ago)
        log.write(supervisor, "failed", days_ago, field="title")
        queued = log.write(agent, "pending", days_ago, field="gender")
        log.write(agent, "conflict", max(0, days_ago - 3), field="gender", supersedes=queued)
    log.write(agent, "pending", 200)  # still queued
    log.write(supervisor, "succeeded", 0, action="revert", field="first_name")
    return log


def figures_of(**dates) -> tuple:
    f = dashboard_figures(**dates)
    return f.per_period, f.per_agent, f.rates, f.fields


def test_a_year_with_nothing_rolled_up_is_counted_live_writing_nothing(client, supervisor, year):
    client.force_login(supervisor)
    url = reverse("dashboard:dashboard")
    params = {"date_from": year.today - timedelta(days=364), "date_to": year.today}
    with CaptureQueriesContext(connection) as quiet:
        client.get(url, {"date_from": year.today, "date_to": year.today})

    with CaptureQueriesContext(connection) as busy:
        response = client.get(url, params)

    assert response.status_code == 200
    assert response.context["figures"].rates["total"] == 2 * 52 + 52 + 2
    assert stored() == [[], [], []]
    assert not [q for q in busy if "dashboard_" in q["sql"] and "SELECT" not in q["sql"][:6]]
    # As many queries for a year of entries as for a quiet day: at most one more, the stored
    # days' marks (none for a day that cannot be over).
    assert len(busy) <= len(quiet) + 1


def test_the_command_rolls_up_every_day_that_is_over_once(year):
    first_day = year.today - timedelta(days=360)

    assert roll_up("--batch-days", "30") == "Rolled up 359 day(s).\n"  # up to 2 days ago

    days = sorted(RolledUpDay.objects.values_list("day", flat=True))
    assert days == [first_day + timedelta(days=n) for n in range(359)]
    assert DailySaves.objects.filter(outcome="pending").exists() is False  # counted live
    once = stored()
    assert roll_up() == "Rolled up 0 day(s).\n"
    assert stored() == once
    # A day whose mark went (a run that raced another) is rolled up again, one copy of each total.
    RolledUpDay.objects.filter(day=first_day).delete()
    assert roll_up() == "Rolled up 1 day(s).\n"
    assert stored() == once


@pytest.mark.parametrize("days", [0, 1, 2, 3, 6, 30, 90, 364, 731])
def test_the_figures_are_the_same_before_and_after_rolling_up(year, days):
    dates = {"date_from": year.today - timedelta(days=days), "date_to": year.today}
    live = figures_of(**dates)

    roll_up("--batch-days", "7")
    assert figures_of(**dates) == live
    # With holes too: a day not rolled up yet is counted from its entries.
    RolledUpDay.objects.filter(day=year.today - timedelta(days=45)).delete()
    assert figures_of(**dates) == live
