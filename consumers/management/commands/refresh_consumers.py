import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from cdp.connection import connection_scope
from cdp.errors import CDPError
from cdp.links import is_ref
from consumers.models import OrderConsumer
from consumers.services import consumers_refresh


class Command(BaseCommand):
    help = (
        "Fetch cached consumers again from CDP, many at once: those of some orders, those listed "
        "in a file, or every one fetched more than N days ago. Exits 1 if any could not be fetched."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--order",
            action="append",
            default=[],
            metavar="REF",
            help="an order ref whose consumers to refresh (repeatable)",
        )
        parser.add_argument("--file", type=Path, help="a file of consumer refs, one per line")
        parser.add_argument(
            "--older-than",
            type=float,
            metavar="DAYS",
            help="every cached consumer fetched more than DAYS days ago",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=None,
            help="CDP calls at once (default: CDP_CONCURRENCY)",
        )

    def handle(
        self,
        *args: Any,
        order: list[str],
        file: Path | None,
        older_than: float | None,
        concurrency: int | None,
        **options: Any,
    ) -> None:
        refs = self._refs(order, file, older_than)
        if not refs:
            self.stdout.write("Nothing to refresh.")
            return
        total, done, failures = len(refs), 0, 0
        started = time.monotonic()

        def progress(ref: str, error: CDPError | None) -> None:
            nonlocal done, failures
            done += 1
            failures += error is not None
            self._bar(done, total, failures, time.monotonic() - started)

        with connection_scope():
            refreshed, failed = consumers_refresh(
                refs=refs, concurrency=concurrency or settings.CDP_CONCURRENCY, on_progress=progress
            )
        elapsed = time.monotonic() - started
        sys.stderr.write("\n")
        self.stdout.write(
            f"Refreshed {refreshed} of {total} consumers in {elapsed:.1f} s "
            f"({total / elapsed if elapsed else 0:.1f}/s); {len(failed)} failed."
        )
        for ref, error in sorted(failed.items()):
            self.stdout.write(f"  {ref}: {error}")
        if failed:
            raise CommandError(f"{len(failed)} consumer(s) could not be refreshed.")

    def _refs(self, orders: list[str], file: Path | None, older_than: float | None) -> list[str]:
        refs: list[str] = []
        if orders:
            refs += OrderConsumer.objects.filter(order_ref__in=orders).values_list("ref", flat=True)
        if file:
            try:
                lines = file.read_text("utf-8").splitlines()
            except OSError as error:
                raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
            wanted = [line.strip() for line in lines if line.strip()]
            bad = [line for line in wanted if not is_ref(line)]
            if bad:
                raise CommandError(f"{file} holds lines that are not consumer refs: {bad[0]!r}.")
            refs += wanted
        if older_than is not None:
            cutoff = timezone.now() - timedelta(days=older_than)
            stale = OrderConsumer.objects.filter(fetched_at__lt=cutoff)
            refs += stale.values_list("ref", flat=True)
        if not (orders or file or older_than is not None):
            raise CommandError(
                "Say which consumers: --order REF, --file PATH or --older-than DAYS."
            )
        return list(dict.fromkeys(refs))

    def _bar(self, done: int, total: int, failures: int, elapsed: float) -> None:
        width = 30
        filled = width * done // total
        rate = done / elapsed if elapsed else 0
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
            f"({failures} failed) {rate:.1f}/s"
        )
        sys.stderr.flush()
