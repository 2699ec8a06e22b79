"""System checks for the key that encrypts the stored CDP API tokens."""

from django.core import checks

from cdp import crypto


@checks.register(checks.Tags.security)
def check_field_encryption_key_format(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Report any FIELD_ENCRYPTION_KEY entry that is not a base64 32-byte key."""
    errors = []
    for position, entry in enumerate(crypto.configured_entries(), start=1):
        try:
            crypto.parse_key(entry, position)
        except crypto.EncryptionKeyMissing as exc:
            errors.append(checks.Error(str(exc), id="cdp.E002"))
    return errors


@checks.register(checks.Tags.security, deploy=True)
def check_field_encryption_key_set(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Report a production set-up without its own FIELD_ENCRYPTION_KEY."""
    entries = crypto.configured_entries()
    if not entries:
        return [
            checks.Error(
                "FIELD_ENCRYPTION_KEY is not set: the CDP API tokens stored in the database "
                "cannot be encrypted or decrypted without DEBUG.",
                hint=f"Generate a key with: {crypto.GENERATE_COMMAND}",
                id="cdp.E001",
            )
        ]
    if crypto.INSECURE_DEVELOPMENT_KEY in entries:
        return [
            checks.Error(
                "FIELD_ENCRYPTION_KEY holds the public development key.",
                hint="Generate a key of your own, put it first and run rotate_credentials_key.",
                id="cdp.E003",
            )
        ]
    return []
