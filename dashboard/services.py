"""The supervisors' figures, aggregated in the database; days that are over from daily totals."""

import calendar
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
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


def dashboard_figures(*, date_from: date, date_to: date) -> Dashboard:
    """Work out every figure on the dashboard for the days from `date_from` to `date_to` (UTC).

    Every save counts once, as what finally happened: a queued save by its final entry (on that
    entry's day), and by its pending entry only while nothing has settled it.
    """
    last_closed = min(date_to, timezone.now().astimezone(UTC).date() - timedelta(days=OPEN_DAYS))
    by_day: defaultdict[date, Counter[str]] = defaultdict(Counter)
    by_agent: defaultdict[str, Counter[str]] = defaultdict(Counter)
    by_field: Counter[str] = Counter()
    if date_from <= last_closed:
        _roll_up(date_from, last_closed)
        stored = DailySaves.objects.filter(day__range=(date_from, last_closed))
        for day, outcome, n in stored.values_list("day", "outcome").annotate(n=Sum("saves")):
            by_day[day][outcome] += n
        for user, outcome, n in stored.values_list("username", "outcome").annotate(n=Sum("saves")):
            by_agent[user][outcome] += n
        changed = DailyFieldChanges.objects.filter(day__range=(date_from, last_closed))
        by_field.update(dict(changed.values_list("field").annotate(n=Sum("changes"))))
    first_open = max(date_from, last_closed + timedelta(days=1))
    live = [(date_from, date_to, _still_queued)]
    if first_open <= date_to:
        live.append((first_open, date_to, _settled))
    for first, last, which in live:
        for day, user, outcome, n in _count_saves(first, last, which):
            by_day[day][outcome] += n
            by_agent[user][outcome] += n
        for _, field, n in _count_fields(first, last, which):
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


def _count_saves(first: date, last: date, which: Callable[..., Q] = _settled) -> QuerySet:
    """(day, username, outcome, saves) for the days from `first` to `last`, from the entries."""
    start, end = _range(first, last)
    saves = AuditEntry.objects.filter(
        which(), action__in=SAVES, action_time__gte=start, action_time__lt=end
    ).annotate(day=TruncDate("action_time", tzinfo=UTC))
    rows = saves.values_list("day", "username", "outcome")
    return rows.annotate(n=Count("id")).order_by()


def _count_fields(first: date, last: date, which: Callable[..., Q] = _settled) -> QuerySet:
    """(day, field, changes) for the days from `first` to `last`, from the entries."""
    start, end = _range(first, last)
    changes = FieldChange.objects.filter(
        which("entry__"),
        entry__action__in=SAVES,
        entry__action_time__gte=start,
        entry__action_time__lt=end,
    ).annotate(day=TruncDate("entry__action_time", tzinfo=UTC))
    return changes.values_list("day", "field").annotate(n=Count("id")).order_by()


def _roll_up(first: date, last: date) -> None:
    """Store the settled totals of the days from `first` to `last` (all over) not stored yet.

    A settled entry never changes once written; a pending one may be settled any day later,
    so pending entries are never stored but counted live.
    """
    wanted = {first + timedelta(days=n) for n in range((last - first).days + 1)}
    missing = wanted - set(
        RolledUpDay.objects.filter(day__range=(first, last)).values_list("day", flat=True)
    )
    if not missing:
        return
    first, last = min(missing), max(missing)
    days = sorted(missing)
    # Two requests may roll up the same day at once: the constraints keep one copy of each total,
    # and a day is marked only with its totals, in one transaction.
    with transaction.atomic():
        saves = _count_saves(first, last).filter(day__in=days)
        _insert_from(saves, DailySaves, ["day", "username", "outcome", "saves"])
        fields = _count_fields(first, last).filter(day__in=days)
        _insert_from(fields, DailyFieldChanges, ["day", "field", "changes"])
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
