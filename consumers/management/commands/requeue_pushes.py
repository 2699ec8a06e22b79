from typing import Any

from django.core.management.base import BaseCommand

from consumers.bulk import bulk_refresh_requeue_stalled
from consumers.pushes import push_requeue_stuck


class Command(BaseCommand):
    help = (
        "Queue again the edits a crash left half-sent or whose task was lost, and the bulk "
        "refreshes whose worker died; run it at start-up and from cron (it is safe to run at any "
        "time)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        edits = push_requeue_stuck()
        refreshes = bulk_refresh_requeue_stalled()
        self.stdout.write(f"Queued {edits} edit(s) and {refreshes} bulk refresh(es) again.")
