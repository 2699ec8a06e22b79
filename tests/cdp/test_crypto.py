"""FIELD_ENCRYPTION_KEY: rotation, a missing or malformed key, and the system checks."""

import base64
import hashlib
import importlib
from io import StringIO

import pytest
from django.apps import apps as django_apps
from django.core import checks
from django.core.management import CommandError, call_command

from audit.models import AuditEntry, FieldChange
from audit.services import RequestMeta
from cdp import services
from cdp.models import CDPConnection, token_fingerprint
from core import crypto

pytestmark = pytest.mark.django_db

OLD_KEY = base64.b64encode(b"old-field-encryption-key-0123456").decode()
NEW_KEY = base64.b64encode(b"new-field-encryption-key-6543210").decode()
TOKEN = "sandbox-api-token"


def make_connection(user, *, name="Sandbox", token=TOKEN):
    connection = CDPConnection(name=name, client_key="sandbox-client-key", timeout=2.0)
    return services.connection_save(
        connection=connection, api_token=token, user=user, meta=RequestMeta()
    )


def rotate() -> str:
    out = StringIO()
    call_command("rotate_credentials_key", stdout=out)
    return out.getvalue()


def check_ids(*, deploy: bool) -> set[str | None]:
    return {message.id for message in checks.run_checks(include_deployment_checks=deploy)}


def test_rotation_reencrypts_every_token_under_the_new_first_key(administrator, settings):
    settings.FIELD_ENCRYPTION_KEY = [OLD_KEY]
    first = make_connection(administrator, name="First")
    second = make_connection(administrator, name="Second", token="another-token-4321")
    settings.FIELD_ENCRYPTION_KEY = [NEW_KEY, OLD_KEY]

    output = rotate()

    new_id = crypto.key_id(base64.b64decode(NEW_KEY))
    assert f"Re-encrypted 2 API token(s) under key {new_id}" in output
    settings.FIELD_ENCRYPTION_KEY = [NEW_KEY]
    for connection in (first, second):
        connection.refresh_from_db()
        assert crypto.stored_key_id(connection.api_token_encrypted) == new_id
    assert first.get_api_token() == TOKEN
    assert second.get_api_token() == "another-token-4321"
    assert AuditEntry.objects.filter(username="rotate_credentials_key").count() == 2


def test_rotation_keys_each_fingerprint_by_the_new_key_and_audits_old_and_new(
    administrator, settings
):
    settings.FIELD_ENCRYPTION_KEY = [OLD_KEY]
    connection = make_connection(administrator)
    old_fingerprint = connection.api_token_fingerprint
    settings.FIELD_ENCRYPTION_KEY = [NEW_KEY, OLD_KEY]

    rotate()

    connection.refresh_from_db()
    new_id = crypto.key_id(base64.b64decode(NEW_KEY))
    assert connection.api_token_fingerprint == token_fingerprint(TOKEN)
    assert connection.api_token_fingerprint.endswith(f"(key {new_id})")
    assert connection.api_token_fingerprint != old_fingerprint
    entry = AuditEntry.objects.get(username="rotate_credentials_key")
    changes = {change.field: (change.old_value, change.new_value) for change in entry.changes.all()}
    assert changes["api_token"] == (old_fingerprint, connection.api_token_fingerprint)


def test_rotation_keys_a_fingerprint_the_upgrade_could_not_compute(administrator, settings):
    connection = make_connection(administrator)
    CDPConnection.objects.update(api_token_fingerprint="")

    assert "Re-encrypted 1 API token(s)" in rotate()

    connection.refresh_from_db()
    assert connection.api_token_fingerprint == token_fingerprint(TOKEN)


# --- the upgrade to keyed fingerprints (migration 0002) ------------------------------------------

upgrade = importlib.import_module("cdp.migrations.0002_keyed_token_fingerprints")


def as_before_the_upgrade(connection, token):
    """Give a row what the app stored before: the last four characters, an unkeyed SHA-256."""
    unkeyed = "fingerprint " + hashlib.sha256(token.encode()).hexdigest()[:12]
    CDPConnection.objects.filter(pk=connection.pk).update(
        api_token_tail=token[-4:], api_token_fingerprint=unkeyed
    )
    return unkeyed


def test_the_upgrade_keys_stored_fingerprints_and_trims_what_short_tokens_show(administrator):
    long_one = make_connection(administrator, name="Long")
    short_one = make_connection(administrator, name="Short", token="short-token")
    as_before_the_upgrade(long_one, TOKEN)
    unkeyed = as_before_the_upgrade(short_one, "short-token")
    audit_before = list(FieldChange.objects.values_list("old_value", "new_value"))

    upgrade.key_fingerprints_and_trim_tails(django_apps, None)

    long_one.refresh_from_db()
    short_one.refresh_from_db()
    assert (long_one.api_token_tail, long_one.api_token_fingerprint) == (
        "oken",
        token_fingerprint(TOKEN),
    )
    assert (short_one.api_token_tail, short_one.api_token_fingerprint) == (
        "",
        token_fingerprint("short-token"),
    )
    assert short_one.api_token_fingerprint != unkeyed
    # The audit log is append-only: what it recorded stays as it was.
    assert list(FieldChange.objects.values_list("old_value", "new_value")) == audit_before


def test_the_upgrade_without_the_key_drops_the_unkeyed_fingerprint_and_shows_nothing(
    administrator, settings
):
    connection = make_connection(administrator)
    as_before_the_upgrade(connection, TOKEN)
    settings.FIELD_ENCRYPTION_KEY = []
    settings.DEBUG = False

    upgrade.key_fingerprints_and_trim_tails(django_apps, None)

    connection.refresh_from_db()
    assert (connection.api_token_tail, connection.api_token_fingerprint) == ("", "")
    assert connection.masked_token == "stored (none of it shown)"


def test_the_audit_names_a_token_whose_fingerprint_is_unknown_as_such(administrator):
    connection = make_connection(administrator)
    CDPConnection.objects.update(api_token_fingerprint="")
    connection.refresh_from_db()

    services.connection_save(
        connection=connection, api_token="a-brand-new-token-5678", user=administrator,
        meta=RequestMeta(),
    )  # fmt: skip

    entry = AuditEntry.objects.first()
    assert entry is not None
    [change] = entry.changes.all()
    assert change.old_value == "fingerprint unknown"
    assert change.new_value == token_fingerprint("a-brand-new-token-5678")


def test_rotation_leaves_tokens_already_under_the_first_key(administrator, settings):
    settings.FIELD_ENCRYPTION_KEY = [NEW_KEY]
    make_connection(administrator)

    assert "Re-encrypted 0 API token(s)" in rotate()
    assert "1 already used it" in rotate()


def test_a_token_under_a_removed_key_fails_to_decrypt(administrator, settings):
    settings.FIELD_ENCRYPTION_KEY = [OLD_KEY]
    connection = make_connection(administrator)
    settings.FIELD_ENCRYPTION_KEY = [NEW_KEY]

    with pytest.raises(crypto.DecryptionFailed, match="FIELD_ENCRYPTION_KEY no longer holds"):
        connection.get_api_token()
    with pytest.raises(CommandError, match="Nothing was re-encrypted"):
        rotate()


def test_a_missing_key_with_debug_off_gives_a_clear_error(administrator, settings):
    connection = make_connection(administrator)
    settings.FIELD_ENCRYPTION_KEY = []
    settings.DEBUG = False

    with pytest.raises(crypto.EncryptionKeyMissing, match="FIELD_ENCRYPTION_KEY is not set"):
        connection.get_api_token()
    with pytest.raises(crypto.EncryptionKeyMissing, match="python -c"):
        connection.set_api_token("a-new-token-1234")
    with pytest.raises(CommandError, match="FIELD_ENCRYPTION_KEY is not set"):
        rotate()


def test_a_missing_key_with_debug_on_falls_back_to_the_development_key(administrator, settings):
    settings.FIELD_ENCRYPTION_KEY = []
    settings.DEBUG = True

    connection = make_connection(administrator)

    dev_id = crypto.key_id(base64.b64decode(crypto.INSECURE_DEVELOPMENT_KEY))
    assert crypto.stored_key_id(connection.api_token_encrypted) == dev_id
    assert connection.get_api_token() == TOKEN


def test_a_malformed_key_is_named_by_position_not_by_value(settings):
    settings.FIELD_ENCRYPTION_KEY = [NEW_KEY, "c2hvcnQ="]

    with pytest.raises(crypto.EncryptionKeyMissing) as caught:
        crypto.configured_keys()

    assert "entry 2" in str(caught.value)
    assert "c2hvcnQ=" not in str(caught.value)
    assert "cdp.E002" in check_ids(deploy=False)


def test_the_deploy_check_reports_a_missing_key(settings):
    settings.FIELD_ENCRYPTION_KEY = []

    assert "cdp.E001" in check_ids(deploy=True)
    assert "cdp.E001" not in check_ids(deploy=False)


def test_the_deploy_check_reports_the_development_key(settings):
    settings.FIELD_ENCRYPTION_KEY = [crypto.INSECURE_DEVELOPMENT_KEY]

    assert "cdp.E003" in check_ids(deploy=True)


def test_the_deploy_check_passes_with_a_key_of_ones_own(settings):
    settings.FIELD_ENCRYPTION_KEY = [NEW_KEY, OLD_KEY]

    assert not {"cdp.E001", "cdp.E002", "cdp.E003"} & check_ids(deploy=True)
