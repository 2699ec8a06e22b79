"""The supervisors' figures, each aggregated in the database: a million entries stay fast."""

import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count, Min, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from audit.forms import FIELD_LABELS
from audit.models import AuditEntry, FieldChange
from consumers.models import Push

SAVES = (AuditEntry.Action.EDIT, AuditEntry.Action.REVERT)
OUTCOMES = ("succeeded", "failed", "conflict", "pending")


@dataclass
class Dashboard:
    date_from: date
    date_to: date
    per_day: list[dict]
    per_agent: list[dict]
    rates: dict
    fields: list[dict]
    queue: dict
    cdp: dict


def _range(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    return (
        datetime.combine(date_from, time.min, tzinfo=UTC),
        datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC),
    )


def _outcome_counts() -> dict:
    return {outcome: Count("id", filter=Q(outcome=outcome)) for outcome in OUTCOMES}


def dashboard_figures(*, date_from: date, date_to: date) -> Dashboard:
    """Work out every figure on the dashboard for the days from `date_from` to `date_to` (UTC)."""
    start, end = _range(date_from, date_to)
    saves = AuditEntry.objects.filter(action__in=SAVES, action_time__gte=start, action_time__lt=end)

    by_day = {
        row["day"]: row
        for row in saves.annotate(day=TruncDate("action_time", tzinfo=UTC))
        .values("day")
        .annotate(total=Count("id"), **_outcome_counts())
        .order_by("day")
    }
    per_day = []
    day = date_from
    while day <= date_to:  # every day of the range, the quiet ones too
        row = by_day.get(day, {})
        per_day.append({"day": day.isoformat(), **{o: row.get(o, 0) for o in OUTCOMES}})
        day += timedelta(days=1)

    per_agent = list(
        saves.values("username")
        .annotate(total=Count("id"), **_outcome_counts())
        .order_by("-total", "username")[:15]
    )

    totals = saves.aggregate(total=Count("id"), **_outcome_counts())
    done = totals["total"] - totals["pending"]
    rates = {
        **totals,
        "failure_rate": totals["failed"] / done if done else 0.0,
        "conflict_rate": totals["conflict"] / done if done else 0.0,
    }

    changed = FieldChange.objects.filter(
        entry__action__in=SAVES, entry__action_time__gte=start, entry__action_time__lt=end
    )
    fields = [
        {
            "field": row["field"],
            "label": FIELD_LABELS.get(row["field"], row["field"]),
            "changes": row["n"],
        }
        for row in changed.values("field").annotate(n=Count("id")).order_by("-n")[:10]
    ]
    return Dashboard(
        date_from, date_to, per_day, per_agent, rates, fields, queue_figures(), cdp_figures()
    )


def queue_figures() -> dict:
    """How many edits wait for CDP (and for a person), and since when."""
    waiting = Push.objects.filter(status__in=Push.WAITING)
    waiting = waiting.aggregate(n=Count("id"), oldest=Min("created_at"))
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
        if finished >= started
    )
    return {
        **counts,
        "error_rate": counts["troubled"] / counts["tries"] if counts["tries"] else 0.0,
        "median_ms": statistics.median(durations) if durations else None,
        "p95_ms": durations[int(0.95 * (len(durations) - 1))] if durations else None,
    }
