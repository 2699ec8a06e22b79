from typing import Any

from django.core.management.base import BaseCommand

from approvals.services import approvals_expire, approvals_resume_stuck


class Command(BaseCommand):
    help = (
        "Close the approval requests nobody decided on before their expiry, and send the "
        "approvals a crash left unsent; run it from cron every few minutes (safe at any time)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        expired = approvals_expire()
        resumed = approvals_resume_stuck()
        self.stdout.write(
            f"Closed {expired} expired approval request(s); sent {resumed} approval(s) again."
        )
