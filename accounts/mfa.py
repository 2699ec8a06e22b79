"""MFA for local accounts: who must use it, how a sign-in was made, and its audit entries."""

from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from allauth.mfa.signals import (
    authentication_failed,
    authenticator_added,
    authenticator_removed,
    authenticator_reset,
    authenticator_used,
)
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest

from accounts import roles
from accounts.sso import claims as sso_claims
from audit.models import AuditEntry
from audit.services import RequestMeta, audit_entry_create, audit_entry_create_or_count
from core import crypto
from core.typing import Actor

# What the audit log calls each kind of authenticator.
KINDS = {
    Authenticator.Type.TOTP: "authenticator app (TOTP)",
    Authenticator.Type.WEBAUTHN: "passkey",
    Authenticator.Type.RECOVERY_CODES: "recovery codes",
}
# The methods that count as a second factor; recovery codes only stand in for them.
SECOND_FACTORS = [Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
# The TOTP key and the recovery codes' seed are encrypted at rest under FIELD_ENCRYPTION_KEY.
MFA_SECRET_PURPOSE = "mfa-secret"


def mfa_required(user: Actor) -> bool:
    """Tell whether this user must have a second factor when signing in with a password."""
    if user is None or not user.is_authenticated:
        return False
    if settings.MFA_REQUIRED_FOR_ALL or getattr(user, "is_superuser", False):
        return True
    return bool({roles.SUPERVISOR, roles.ADMINISTRATOR} & set(roles.role_names(user)))


def mfa_enrolled(user: Actor) -> bool:
    return is_mfa_enabled(user, types=SECOND_FACTORS)


def signed_in_with_password(request: HttpRequest) -> bool:
    """Tell whether this session's sign-in was a password (not SSO, not a passkey alone)."""
    return any(
        r.get("method") == "password"
        for r in get_authentication_records(request, getattr(request, "user", None))
    )


def describe_sign_in(request: HttpRequest) -> str:
    """Say how the user signing in now did it, for the sign-in's audit entry."""
    sso = sso_claims.remembered(request)
    if sso is not None:
        return sso.describe()
    steps = []
    for record in get_authentication_records(request, getattr(request, "user", None)):
        method = record.get("method")
        if method == "password":
            steps.append("password")
        elif method == "mfa":
            kind = KINDS.get(record.get("type"), str(record.get("type")))
            steps.append(f"{kind}, without a password" if record.get("passwordless") else kind)
    return "Signed in with " + " + ".join(steps) if steps else ""


def _audit(request: HttpRequest | None, user: Actor, action: str, reason: str) -> None:
    audit_entry_create(
        user=user,
        meta=RequestMeta.from_request(request) if request is not None else RequestMeta(),
        action=action,
        outcome=AuditEntry.Outcome.SUCCEEDED,
        object_repr=f"user {user.get_username()}" if user is not None else "",
        reason=reason,
    )


@receiver(authenticator_added, dispatch_uid="accounts-mfa-added")
def audit_mfa_added(
    sender: object, request: HttpRequest, user: Actor, authenticator: Authenticator, **kw: object
) -> None:
    _audit(request, user, AuditEntry.Action.MFA_ADDED, f"Added: {KINDS[authenticator.type]}")


@receiver(authenticator_reset, dispatch_uid="accounts-mfa-reset")
def audit_mfa_reset(
    sender: object, request: HttpRequest, user: Actor, authenticator: Authenticator, **kw: object
) -> None:
    _audit(request, user, AuditEntry.Action.MFA_ADDED, f"Renewed: {KINDS[authenticator.type]}")


@receiver(authenticator_removed, dispatch_uid="accounts-mfa-removed")
def audit_mfa_removed(
    sender: object, request: HttpRequest, user: Actor, authenticator: Authenticator, **kw: object
) -> None:
    _audit(request, user, AuditEntry.Action.MFA_REMOVED, f"Removed: {KINDS[authenticator.type]}")


@receiver(authenticator_used, dispatch_uid="accounts-recovery-code-used")
def audit_recovery_code_used(
    sender: object, request: HttpRequest, user: Actor, authenticator: Authenticator, **kw: object
) -> None:
    if authenticator.type != Authenticator.Type.RECOVERY_CODES:
        return  # the sign-in's own entry says which method was used
    # The code was marked used on a fresh copy of the row: count from the database.
    current = Authenticator.objects.filter(pk=authenticator.pk).first() or authenticator
    left = len(current.wrap().get_unused_codes())
    _audit(
        request,
        user,
        AuditEntry.Action.RECOVERY_CODE_USED,
        f"A recovery code was used ({left} left)"
        + (" to confirm it is them" if kw.get("reauthenticated") else " to sign in"),
    )


@receiver(authentication_failed, dispatch_uid="accounts-mfa-failed")
def audit_mfa_failed(
    sender: object, request: HttpRequest, user: Actor, authenticator: Authenticator, **kw: object
) -> None:
    # Whoever has the password can fail the second step at will: repeats are counted.
    audit_entry_create_or_count(
        user=user,
        meta=RequestMeta.from_request(request),
        action=AuditEntry.Action.MFA_FAILED,
        outcome=AuditEntry.Outcome.FAILED,
        object_repr=f"wrong code for the {KINDS[authenticator.type]}",
    )


# Where each kind of authenticator keeps its secret, encrypted by accounts.adapters.MFAAdapter.
SECRET_KEYS = {Authenticator.Type.TOTP: "secret", Authenticator.Type.RECOVERY_CODES: "seed"}


def mfa_secrets_reencrypt() -> tuple[int, int]:
    """Re-encrypt every stored TOTP key and recovery-code seed under the newest
    FIELD_ENCRYPTION_KEY key (`rotate_credentials_key`); return (re-encrypted, already current)."""
    newest = crypto.key_id(crypto.configured_keys()[0])
    reencrypted = current = 0
    with transaction.atomic():
        for authenticator in Authenticator.objects.select_for_update().filter(
            type__in=list(SECRET_KEYS)
        ):
            field = SECRET_KEYS[Authenticator.Type(authenticator.type)]
            stored = authenticator.data.get(field, "")
            if crypto.stored_key_id(stored) == newest:
                current += 1
                continue
            secret = crypto.decrypt(stored, purpose=MFA_SECRET_PURPOSE)
            authenticator.data[field] = crypto.encrypt(secret, purpose=MFA_SECRET_PURPOSE)
            authenticator.save(update_fields=["data"])
            reencrypted += 1
    return reencrypted, current
