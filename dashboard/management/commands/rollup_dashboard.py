from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from dashboard.services import ROLL_UP_BATCH_DAYS, dashboard_roll_up


class Command(BaseCommand):
    help = (
        "Store the dashboard's daily totals of every day that is over (before yesterday, UTC) and "
        "not stored yet, so no page view has to count them. Run it hourly (safe at any time)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-days",
            type=int,
            default=ROLL_UP_BATCH_DAYS,
            help=f"days stored per transaction (default {ROLL_UP_BATCH_DAYS})",
        )

        parser.add_argument(
            "--from",
            dest="since",
            type=date.fromisoformat,
            default=None,
            help="the first day (YYYY-MM-DD) to roll up (default: the oldest audit entry's day)",
        )

    def handle(self, *args: Any, batch_days: int, since: date | None, **options: Any) -> None:
        days = dashboard_roll_up(since=since, batch_days=max(1, batch_days))
        self.stdout.write(f"Rolled up {days} day(s).")
