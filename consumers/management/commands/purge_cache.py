from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from consumers.services import cache_purge


class Command(BaseCommand):
    help = (
        "Drop cached consumers (and their orders and finished edits) nobody has viewed for "
        "CACHE_RETENTION_DAYS days, and older recent views and bulk refreshes. The audit log is "
        "kept. Run it daily from cron."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="the retention period in days (default: CACHE_RETENTION_DAYS)",
        )
        parser.add_argument("--dry-run", action="store_true", help="count only; delete nothing")

    def handle(self, *args: Any, days: int | None, dry_run: bool, **options: Any) -> None:
        days = settings.CACHE_RETENTION_DAYS if days is None else days
        counts = cache_purge(older_than=timedelta(days=days), dry_run=dry_run)
        verb = "Would drop" if dry_run else "Dropped"
        self.stdout.write(
            f"{verb} {counts['consumers']} consumer(s), {counts['orders']} order(s) and "
            f"{counts['pushes']} finished edit(s) not viewed for {days} days, "
            f"{counts['views']} recent view(s) and {counts['bulk_refreshes']} bulk refresh(es) "
            "older than that."
        )
