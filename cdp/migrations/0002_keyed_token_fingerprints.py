"""Key the stored token fingerprints and keep in clear only the end of a token that may be shown.

Before, a fingerprint was an unkeyed SHA-256 and every token showed its last four characters.
Each row's token is decrypted to compute the keyed fingerprint and the shorter tail; without the
key (FIELD_ENCRYPTION_KEY unset or not the one that encrypted it) the row keeps no fingerprint
and shows nothing until its token is typed again or `rotate_credentials_key` runs. Audit
entries already written are left as they are: the log is append-only.
"""

from django.core.exceptions import ImproperlyConfigured
from django.db import migrations, models


def key_fingerprints_and_trim_tails(apps, schema_editor):
    """Recompute each stored token's fingerprint (keyed) and the characters it shows."""
    from cdp.models import TOKEN_PURPOSE, token_fingerprint, token_tail
    from core import crypto

    CDPConnection = apps.get_model("cdp", "CDPConnection")
    for connection in CDPConnection.objects.exclude(api_token_encrypted=""):
        try:
            token = crypto.decrypt(connection.api_token_encrypted, purpose=TOKEN_PURPOSE)
            tail, fingerprint = token_tail(token), token_fingerprint(token)
        except ImproperlyConfigured:
            # The unkeyed fingerprint must go either way, and how long the token is is unknown.
            tail, fingerprint = "", ""
        CDPConnection.objects.filter(pk=connection.pk).update(
            api_token_tail=tail, api_token_fingerprint=fingerprint
        )


class Migration(migrations.Migration):
    dependencies = [("cdp", "0001_initial")]

    operations = [
        migrations.RenameField("cdpconnection", "api_token_last4", "api_token_tail"),
        migrations.AlterField(
            model_name="cdpconnection",
            name="api_token_fingerprint",
            field=models.CharField(editable=False, max_length=64),
        ),
        # Going back keeps the new values: the old, unkeyed ones are not worth restoring.
        migrations.RunPython(key_fingerprints_and_trim_tails, migrations.RunPython.noop),
    ]
