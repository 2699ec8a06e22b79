from django.core.management.base import BaseCommand

from consumers.pushes import push_requeue_stuck


class Command(BaseCommand):
    help = (
        "Queue again the edits a crash left half-sent or whose task was lost; run it at start-up "
        "and from cron (it is safe to run at any time)."
    )

    def handle(self, *args, **options):
        count = push_requeue_stuck()
        self.stdout.write(f"Queued {count} edit(s) again.")
