from django.core.management.base import BaseCommand, CommandError

from audit.personal import AuditKeyMissing, kek_id, key_encryption_keys
from audit.services import audit_key_rotate


class Command(BaseCommand):
    help = (
        "Wrap every person's audit key again under the newest key of AUDIT_KEY (its first), so "
        "that the older keys can be removed from AUDIT_KEY. No audit entry changes: the keys that "
        "encrypt the values stay the same (docs/privacy.md)."
    )

    def handle(self, *args: object, **options: object) -> None:
        try:
            newest = kek_id(key_encryption_keys()[0])
            rotated = audit_key_rotate()
        except AuditKeyMissing as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"Re-wrapped {rotated} audit key(s) under key {newest}; the others were already under "
            "it. Older keys may now be removed from AUDIT_KEY."
        )
