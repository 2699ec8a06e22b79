"""The supervisors' figures, aggregated in the database; days that are over from daily totals."""

import calendar
import functools
import operator
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection, models, transaction
from django.db.models import Count, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from approvals.services import approval_figures
from audit.labels import field_label
from audit.models import SAVE_ACTIONS, AuditEntry, FieldChange
from consumers.models import Push
from dashboard.models import DailyFieldChanges, DailySaves, RolledUpDay

SAVES = SAVE_ACTIONS
SETTLED = ("succeeded", "failed", "conflict")
OUTCOMES = (*SETTLED, "pending")
PENDING = AuditEntry.Outcome.PENDING

# How the chart and its table group the range: day by day up to this many days, then by ISO week
# up to a year (a leap year's range has 366 days), then by month.
DAYS_PER_DAY = 90
DAYS_PER_WEEK = 366


@dataclass
class Dashboard:
    date_from: date
    date_to: date
    period: str  # "day", "week" or "month": what each row of `per_period` covers
    per_period: list[dict]
    per_agent: list[dict]
    rates: dict
    fields: list[dict]
    queue: dict
    cdp: dict
    # Four-eyes approval: requests waiting now, and the median time to a decision in the range.
    approvals: dict


def _range(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """Return the first moment of `date_from` and the first after `date_to` (UTC)."""
    end = (
        datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC)
        if date_to < date.max
        else datetime.max.replace(tzinfo=UTC)
    )
    return datetime.combine(date_from, time.min, tzinfo=UTC), end


def period_of(date_from: date, date_to: date) -> str:
    """Say how a range is grouped: "day", "week" (ISO weeks) or "month"."""
    days = (date_to - date_from).days + 1
    return "day" if days <= DAYS_PER_DAY else "week" if days <= DAYS_PER_WEEK else "month"


def _period(day: date, period: str, date_from: date, date_to: date) -> tuple[str, date, date]:
    """Return the label of the day's day, ISO week or month, and its days within the range."""
    if period == "day":
        return day.isoformat(), day, day
    if period == "week":
        year, week, weekday = day.isocalendar()
        first = day - timedelta(days=weekday - 1)
        last = first + timedelta(days=min(6, (date.max - first).days))
        label = f"{year}-W{week:02d}"
    else:
        first = day.replace(day=1)
        last = day.replace(day=calendar.monthrange(day.year, day.month)[1])
        label = f"{day.year:04d}-{day.month:02d}"
    return label, max(first, date_from), min(last, date_to)


# Days before yesterday (UTC) are over: no entry can still be written with their date (entries
# take the time they are written, within seconds), so their totals are stored once and reused.
OPEN_DAYS = 2

# How many days the roll-up stores per transaction: a month at a million entries a year is some
# 80,000 entries, a fraction of a second, so a first roll-up of years holds no lock for long.
ROLL_UP_BATCH_DAYS = 31


def _last_closed() -> date:
    """The last day that is over (UTC)."""
    return timezone.now().astimezone(UTC).date() - timedelta(days=OPEN_DAYS)


def _spans(days: Iterable[date]) -> list[tuple[date, date]]:
    """The days, sorted, as runs of consecutive days (first, last)."""
    spans: list[tuple[date, date]] = []
    for day in sorted(days):
        if spans and (day - spans[-1][1]).days == 1:
            spans[-1] = (spans[-1][0], day)
        else:
            spans.append((day, day))
    return spans


def dashboard_figures(*, date_from: date, date_to: date) -> Dashboard:
    """Work out every figure on the dashboard for the days from `date_from` to `date_to` (UTC).

    Every save counts once, as what finally happened: a queued save by its final entry (on that
    entry's day), and by its pending entry only while nothing has settled it.

    It only reads: the days that are over come from the daily totals `dashboard_roll_up` stores
    (the periodic job), and the others (today, yesterday, and a day that is over but not rolled
    up yet) are counted from their entries. So a page view never pays for a roll-up.
    """
    last_closed = min(date_to, _last_closed())
    by_day: defaultdict[date, Counter[str]] = defaultdict(Counter)
    by_agent: defaultdict[str, Counter[str]] = defaultdict(Counter)
    by_field: Counter[str] = Counter()
    rolled_up: set[date] = set()
    if date_from <= last_closed:
        rolled_up = set(
            RolledUpDay.objects.filter(day__range=(date_from, last_closed)).values_list(
                "day", flat=True
            )
        )
    if rolled_up:
        # Only the days marked above: one the job rolls up meanwhile is counted live below,
        # never twice (a day's totals and its mark are written in one transaction).
        in_stored = _any_span(_spans(rolled_up), "day")
        stored = DailySaves.objects.filter(in_stored)
        for day, outcome, n in stored.values_list("day", "outcome").annotate(n=Sum("saves")):
            by_day[day][outcome] += n
        for user, outcome, n in stored.values_list("username", "outcome").annotate(n=Sum("saves")):
            by_agent[user][outcome] += n
        changed = DailyFieldChanges.objects.filter(in_stored)
        by_field.update(dict(changed.values_list("field").annotate(n=Sum("changes"))))
    days = (date_from + timedelta(days=n) for n in range((date_to - date_from).days + 1))
    live = [([(date_from, date_to)], _still_queued)]
    if unrolled := _spans(day for day in days if day not in rolled_up):
        live.append((unrolled, _settled))
    for spans, which in live:
        for day, user, outcome, n in _count_saves(spans, which):
            by_day[day][outcome] += n
            by_agent[user][outcome] += n
        for _, field, n in _count_fields(spans, which):
            by_field[field] += n

    period = period_of(date_from, date_to)
    periods: dict[str, dict] = {}
    for offset in range((date_to - date_from).days + 1):  # every day, the quiet ones too
        day = date_from + timedelta(days=offset)
        label, first, last = _period(day, period, date_from, date_to)
        row = periods.setdefault(
            label,
            {"label": label, "date_from": first, "date_to": last, **dict.fromkeys(OUTCOMES, 0)},
        )
        for outcome in OUTCOMES:
            row[outcome] += by_day[day][outcome]
    per_period = [{**row, "total": sum(row[o] for o in OUTCOMES)} for row in periods.values()]
    busiest = sorted(by_agent.items(), key=lambda item: (-item[1].total(), item[0]))[:15]
    per_agent = [
        {"username": user, "total": counts.total(), **{o: counts[o] for o in OUTCOMES}}
        for user, counts in busiest
    ]
    totals: Counter[str] = sum(by_day.values(), Counter())
    settled = sum(totals[o] for o in SETTLED)
    rates = {
        "total": totals.total(),
        "settled": settled,
        **{o: totals[o] for o in OUTCOMES},
        # Over the saves that are settled: one still queued has neither failed nor succeeded.
        "failure_rate": totals["failed"] / settled if settled else 0.0,
        "conflict_rate": totals["conflict"] / settled if settled else 0.0,
    }
    fields = [
        {"field": field, "label": field_label(field), "changes": n}
        for field, n in sorted(by_field.items(), key=lambda item: (-item[1], item[0]))[:10]
    ]
    return Dashboard(
        date_from,
        date_to,
        period,
        per_period,
        per_agent,
        rates,
        fields,
        queue_figures(),
        cdp_figures(),
        approval_figures(date_from=date_from, date_to=date_to),
    )


def _settled(entry: str = "") -> Q:
    """The saves' final entries: they never change, so a day of them can be stored."""
    return ~Q(**{f"{entry}outcome": PENDING})


def _still_queued(entry: str = "") -> Q:
    """The pending entries nothing has settled yet: counted afresh every time."""
    return Q(**{f"{entry}outcome": PENDING, f"{entry}superseded_by__isnull": True})


def _any_span(spans: list[tuple[date, date]], field: str) -> Q:
    """Rows whose `field` falls on one of the spans' days (a date, or a time in UTC)."""
    found = []
    for first, last in spans:
        if field.endswith("action_time"):
            start, end = _range(first, last)
            found.append(Q(**{f"{field}__gte": start, f"{field}__lt": end}))
        else:
            found.append(Q(**{f"{field}__range": (first, last)}))
    return functools.reduce(operator.or_, found)


def _count_saves(spans: list[tuple[date, date]], which: Callable[..., Q] = _settled) -> QuerySet:
    """(day, username, outcome, saves) for the spans' days, from the entries."""
    saves = AuditEntry.objects.filter(
        which(), _any_span(spans, "action_time"), action__in=SAVES
    ).annotate(day=TruncDate("action_time", tzinfo=UTC))
    rows = saves.values_list("day", "username", "outcome")
    return rows.annotate(n=Count("id")).order_by()


def _count_fields(spans: list[tuple[date, date]], which: Callable[..., Q] = _settled) -> QuerySet:
    """(day, field, changes) for the spans' days, from the entries."""
    changes = FieldChange.objects.filter(
        which("entry__"), _any_span(spans, "entry__action_time"), entry__action__in=SAVES
    ).annotate(day=TruncDate("entry__action_time", tzinfo=UTC))
    return changes.values_list("day", "field").annotate(n=Count("id")).order_by()


def dashboard_roll_up(*, since: date | None = None, batch_days: int = ROLL_UP_BATCH_DAYS) -> int:
    """Store the settled totals of every day that is over and not stored yet; return how many.

    From `since` (default: the day of the oldest audit entry; the days before it are quiet and
    cost a page view nothing) to the day before yesterday, oldest first, in
    transactions of `batch_days` days. Run by the periodic job; safe at any time and twice at
    once. A settled entry never changes once written; a pending one may be settled any day later,
    so pending entries are never stored but counted live.
    """
    last = _last_closed()
    if since is None:
        oldest = AuditEntry.objects.aggregate(oldest=Min("action_time"))["oldest"]
        if oldest is None:
            return 0
        since = oldest.astimezone(UTC).date()
    first = since
    if first > last:
        return 0
    done = set(RolledUpDay.objects.filter(day__range=(first, last)).values_list("day", flat=True))
    missing = [
        day
        for day in (first + timedelta(days=n) for n in range((last - first).days + 1))
        if day not in done
    ]
    for start in range(0, len(missing), batch_days):
        _roll_up(missing[start : start + batch_days])
    return len(missing)


def _roll_up(days: list[date]) -> None:
    """Store the settled totals of these days (all over) and mark them, in one transaction."""
    spans = _spans(days)
    # Two runs may roll up the same day at once: the constraints keep one copy of each total,
    # and a day is marked only with its totals, in one transaction.
    with transaction.atomic():
        _insert_from(_count_saves(spans), DailySaves, ["day", "username", "outcome", "saves"])
        _insert_from(_count_fields(spans), DailyFieldChanges, ["day", "field", "changes"])
        RolledUpDay.objects.bulk_create(
            [RolledUpDay(day=day) for day in days], ignore_conflicts=True
        )


def _insert_from(totals: QuerySet, model: type[models.Model], columns: list[str]) -> None:
    """INSERT … SELECT the totals into the model's table, in the database, skipping duplicates.

    A year at a million entries is some 100,000 totals: copied by the database itself rather
    than through Python, it takes a fraction of the time.
    """
    sql, params = totals.query.sql_with_params()
    quote = connection.ops.quote_name
    # The totals' columns by the names Django gives them (the fields', then the annotations').
    selected = ", ".join(quote(name) for name in [*columns[:-1], "n"])
    target = f"{quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)})"
    select = f"SELECT {selected} FROM ({sql}) AS totals"
    if connection.vendor == "sqlite":
        statement = f"INSERT OR IGNORE INTO {target} {select}"
    else:
        statement = f"INSERT INTO {target} {select} ON CONFLICT DO NOTHING"
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def queue_figures() -> dict:
    """How many edits wait for CDP (and for a person), and since when."""
    waiting = Push.objects.filter(status__in=Push.WAITING).aggregate(
        n=Count("id"), oldest=Min("created_at")
    )
    conflicts = Push.objects.filter(status=Push.Status.CONFLICT, resolution="").count()
    oldest = waiting["oldest"]
    age = (timezone.now() - oldest) if oldest else None
    return {"waiting": waiting["n"], "conflicts": conflicts, "oldest": oldest, "oldest_age": age}


def cdp_figures(*, hours: int = 24) -> dict:
    """CDP as the saves saw it lately: how long a save's try took, and how often CDP failed it."""
    since = timezone.now() - timedelta(hours=hours)
    recent = Push.objects.filter(attempt_started_at__gte=since)
    # A save CDP did not take at its first try was queued; one it refused outright failed.
    counts = recent.aggregate(
        tries=Count("id"),
        troubled=Count("id", filter=Q(queued_at__isnull=False) | Q(status=Push.Status.FAILED)),
    )
    # Durations of the finished tries; a day of saves is a few thousand rows at most.
    durations = sorted(
        (finished - started).total_seconds() * 1000
        for started, finished in recent.filter(finished_at__isnull=False).values_list(
            "attempt_started_at", "finished_at"
        )[:20_000]
        if started and finished and finished >= started
    )
    return {
        **counts,
        "error_rate": counts["troubled"] / counts["tries"] if counts["tries"] else 0.0,
        "median_ms": statistics.median(durations) if durations else None,
        "p95_ms": durations[int(0.95 * (len(durations) - 1))] if durations else None,
    }
