"""Re-encrypt every stored CDP API token, and the other apps' secrets under the same keys (the MFA
secrets), under the newest (first) FIELD_ENCRYPTION_KEY key."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cdp import services
from core import crypto


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored CDP API token under the first key of FIELD_ENCRYPTION_KEY. "
        "Put the new key first and keep the old ones after it until this has run."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with transaction.atomic():  # all or nothing: one key for every secret afterwards
                result = services.connection_tokens_reencrypt()
                others = {name: reencrypt() for name, reencrypt in crypto.reencrypters.items()}
        except crypto.EncryptionKeyMissing as exc:
            raise CommandError(str(exc)) from None
        except crypto.DecryptionFailed as exc:
            raise CommandError(f"Nothing was re-encrypted: {exc}") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Re-encrypted {result.reencrypted} API token(s) under key {result.key_id}; "
                f"{result.already_current} already used it."
            )
        )
        for name, (reencrypted, current) in others.items():
            self.stdout.write(
                self.style.SUCCESS(f"Re-encrypted {reencrypted} {name}; {current} already used it.")
            )
        if len(crypto.configured_entries()) > 1:
            self.stdout.write(
                "Every stored token now uses the first key; the others may be removed from "
                "FIELD_ENCRYPTION_KEY."
            )
