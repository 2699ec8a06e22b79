"""Use cases for the CDP connections: save, delete, test, and re-encrypt their tokens."""

import logging
import time
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from audit.models import AuditEntry
from audit.services import RequestMeta, audit_entry_create
from cdp import client, transport
from cdp.errors import CDPError
from cdp.models import (
    NO_TOKEN,
    TOKEN_FOR_NEW_URL,
    TOKEN_PURPOSE,
    UNKNOWN_FINGERPRINT,
    CDPConnection,
)
from core import crypto

logger = logging.getLogger(__name__)

# Who acts, for the audit log: the signed-in administrator, or nobody (a management command).
Actor = AbstractBaseUser | AnonymousUser | None
# The fields an audit entry reports, as text; the token is audited by fingerprint only.
AUDITED_FIELDS = (
    "name",
    "region",
    "custom_url",
    "client_key",
    "api_version",
    "timeout",
    "is_active",
)


def _audit_text(connection: CDPConnection | None, field: str) -> str:
    if connection is None:
        return ""
    value = getattr(connection, field)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _token_text(connection: CDPConnection | None) -> str:
    if connection is None or not connection.api_token_encrypted:
        return NO_TOKEN
    return connection.api_token_fingerprint or UNKNOWN_FINGERPRINT


def _changes(
    before: CDPConnection | None, after: CDPConnection | None
) -> dict[str, tuple[str, str]]:
    """Return {field: (old, new)} for every audited field that differs."""
    changes = {}
    for field in AUDITED_FIELDS:
        old, new = _audit_text(before, field), _audit_text(after, field)
        if old != new:
            changes[field] = (old, new)
    old, new = _token_text(before), _token_text(after)
    if old != new:
        changes["api_token"] = (old, new)
    return changes


def _audit_credentials(
    *,
    name: str,
    changes: dict[str, tuple[str, str]],
    user: Actor,
    meta: RequestMeta,
    reason: str = "",
) -> None:
    audit_entry_create(
        user=user,
        meta=meta,
        action=AuditEntry.Action.CREDENTIALS,
        outcome=AuditEntry.Outcome.SUCCEEDED,
        object_repr=f"CDP connection {name}",
        changes=changes,
        reason=reason,
    )


@sensitive_variables("api_token")
def connection_save(
    *,
    connection: CDPConnection,
    api_token: str | None = None,
    user: Actor,
    meta: RequestMeta,
    reason: str = "",
) -> CDPConnection:
    """Create or change a connection, deactivating the others if it is active, and audit it.

    `api_token` is the new token in clear, or None (or "") to keep the stored one. Raises
    ValidationError, saving nothing, when a stored token would follow the connection to another
    base URL: that takes the token again.
    """
    if api_token:
        connection.set_api_token(api_token)
    with transaction.atomic():
        before = (
            CDPConnection.objects.select_for_update().filter(pk=connection.pk).first()
            if connection.pk
            else None
        )
        stored_token = before.api_token_encrypted if before is not None else ""
        if stored_token and not api_token and before and before.base_url != connection.base_url:
            raise ValidationError({"api_token": TOKEN_FOR_NEW_URL.format(url=connection.base_url)})
        if connection.is_active:
            # The partial unique index admits one active row, so the others step down first.
            for other in (
                CDPConnection.objects.select_for_update()
                .filter(is_active=True)
                .exclude(pk=connection.pk)
            ):
                other.is_active = False
                other.save(update_fields=["is_active", "updated_at"])
                _audit_credentials(
                    name=other.name,
                    changes={"is_active": ("yes", "no")},
                    user=user,
                    meta=meta,
                    reason=f"Deactivated because {connection.name} was made active.",
                )
        connection.save()
        changes = _changes(before, connection)
        if before is None or changes:
            _audit_credentials(
                name=connection.name,
                changes=changes,
                user=user,
                meta=meta,
                reason=" ".join(filter(None, ["" if before else "Connection created.", reason])),
            )
    return connection


def connection_activate(
    *, connection: CDPConnection, user: Actor, meta: RequestMeta
) -> "ConnectionTestResult":
    """Test a connection and, if CDP accepts it, make it the active one (every other inactive).

    Raises ValidationError, changing nothing but the recorded (and audited) test, if the test
    fails; raises crypto's errors if the stored token cannot be decrypted.
    """
    result = connection_test(connection=connection, user=user, meta=meta)
    if not result.ok:
        raise ValidationError(f"the connection test failed: {result.message}")
    connection.is_active = True
    connection_save(connection=connection, user=user, meta=meta)
    return result


def connection_delete(*, connection: CDPConnection, user: Actor, meta: RequestMeta) -> None:
    """Delete a connection and audit what it held (the token by fingerprint only)."""
    with transaction.atomic():
        _audit_credentials(
            name=connection.name,
            changes=_changes(connection, None),
            user=user,
            meta=meta,
            reason="Connection deleted.",
        )
        connection.delete()


@dataclass(frozen=True)
class ConnectionTestResult:
    ok: bool
    status: int | None
    message: str
    latency_ms: int


def connection_test(
    *, connection: CDPConnection, user: Actor, meta: RequestMeta
) -> ConnectionTestResult:
    """Call CDP with a connection's stored credentials; record and audit the result.

    Raises crypto.DecryptionFailed or crypto.EncryptionKeyMissing if the token cannot be
    decrypted: that is the configuration's fault, not CDP's, and nothing is recorded.
    """
    result = _test_call(connection.client_connection(), connection.pk)
    recorded = _recorded(result)
    with transaction.atomic():
        CDPConnection.objects.filter(pk=connection.pk).update(**recorded)
        _audit_test(connection, result, user=user, meta=meta)
    _keep(connection, recorded)
    return result


@sensitive_variables("api_token")
def connection_test_unsaved(
    *, connection: CDPConnection, api_token: str | None, user: Actor, meta: RequestMeta
) -> ConnectionTestResult:
    """Call CDP with a connection's values about to be saved (`api_token`, else the stored one).

    The result is audited at once and kept on `connection`, to be saved with it; the stored row
    is left alone, since it does not hold the values tested. Raises as connection_test does.
    """
    result = _test_call(connection.client_connection(api_token=api_token), connection.pk)
    _audit_test(connection, result, user=user, meta=meta)
    _keep(connection, _recorded(result))
    return result


def _test_call(target: transport.Connection, pk: int | None) -> ConnectionTestResult:
    """Make the cheapest authenticated call as `target` and say how it went."""
    started = time.monotonic()
    try:
        # No transaction is open here: the HTTP call must not hold database locks.
        client.check_credentials(target)
    except CDPError as exc:
        status, ok = exc.status, False
        message = exc.message
        if exc.status == 404:
            # The credentials may be right: CDP has no such path, i.e. not in this version.
            message = (
                f"{message} CDP does not answer API {target.api_version} at {target.base_url}: "
                "choose the other API version, or check the region."
            )
    else:
        status, ok = 200, True
        message = (
            f"CDP accepted the credentials (HTTP 200) at {target.base_url}, answering in API "
            f"{target.api_version}."
        )
    latency_ms = round((time.monotonic() - started) * 1000)
    outcome = "ok" if ok else "failed"
    logger.info("CDP connection %s test: %s, HTTP %s, %d ms", pk, outcome, status, latency_ms)
    return ConnectionTestResult(ok=ok, status=status, message=message, latency_ms=latency_ms)


def _audit_test(
    connection: CDPConnection, result: ConnectionTestResult, *, user: Actor, meta: RequestMeta
) -> None:
    audit_entry_create(
        user=user,
        meta=meta,
        action=AuditEntry.Action.CONNECTION_TEST,
        outcome=AuditEntry.Outcome.SUCCEEDED if result.ok else AuditEntry.Outcome.FAILED,
        object_repr=f"CDP connection {connection.name}",
        cdp_status=result.status,
        cdp_message=result.message,
    )


def _recorded(result: ConnectionTestResult) -> dict:
    """The connection's fields that keep its last test."""
    return {
        "last_tested_at": timezone.now(),
        "last_test_ok": result.ok,
        "last_test_status": result.status,
        "last_test_message": result.message,
        "last_test_latency_ms": result.latency_ms,
    }


def _keep(connection: CDPConnection, recorded: dict) -> None:
    for name, value in recorded.items():
        setattr(connection, name, value)


@dataclass(frozen=True)
class RotationResult:
    key_id: str
    reencrypted: int
    already_current: int


@sensitive_variables("token")
def connection_tokens_reencrypt(*, meta: RequestMeta | None = None) -> RotationResult:
    """Re-encrypt every stored API token, and key its fingerprint, by the newest key.

    The fingerprint's key is derived from the newest FIELD_ENCRYPTION_KEY key too, so the same
    token gets a new fingerprint: the audit entry records the old and the new one, which links
    the entries written before the rotation to those written after.
    """
    newest = crypto.key_id(crypto.configured_keys()[0])
    reencrypted = already_current = 0
    with transaction.atomic():
        for connection in CDPConnection.objects.select_for_update().order_by("pk"):
            if not connection.api_token_encrypted:
                continue
            old = crypto.stored_key_id(connection.api_token_encrypted)
            keyed = connection.api_token_fingerprint.endswith(f"(key {newest})")
            if old == newest and keyed:
                already_current += 1
                continue
            before = _token_text(connection)
            token = crypto.decrypt(connection.api_token_encrypted, purpose=TOKEN_PURPOSE)
            connection.set_api_token(token)
            connection.save(
                update_fields=[
                    "api_token_encrypted",
                    "api_token_tail",
                    "api_token_fingerprint",
                    "updated_at",
                ]
            )
            reencrypted += 1
            # The token itself is unchanged; what changed is the key it is under, and with it
            # the fingerprint (or one the upgrade could not make is made now).
            changes = {}
            if old != newest:
                changes["api_token_key"] = (f"key {old}", f"key {newest}")
            if before != _token_text(connection):
                changes["api_token"] = (before, _token_text(connection))
            audit_entry_create(
                user=None,
                username="rotate_credentials_key",
                meta=meta or RequestMeta(),
                action=AuditEntry.Action.CREDENTIALS,
                outcome=AuditEntry.Outcome.SUCCEEDED,
                object_repr=f"CDP connection {connection.name}",
                changes=changes,
                reason="API token re-encrypted under the newest FIELD_ENCRYPTION_KEY key, which "
                "keys its fingerprint too.",
            )
    return RotationResult(key_id=newest, reencrypted=reencrypted, already_current=already_current)
