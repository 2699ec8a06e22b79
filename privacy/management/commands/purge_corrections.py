from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from privacy.rectify import rectifications_purge


class Command(BaseCommand):
    help = (
        "Delete the corrections of a person that finished (or were left unstarted) more than "
        "CACHE_RETENTION_DAYS ago: they hold the person's values as previewed. Run it daily."
    )

    def handle(self, *args: object, **options: object) -> None:
        deleted = rectifications_purge(older_than=timedelta(days=settings.CACHE_RETENTION_DAYS))
        self.stdout.write(f"Deleted {deleted} row(s) of old corrections.")
