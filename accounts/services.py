"""Signed-in sessions (recording and ending them) and lifting sign-in lockouts."""

from datetime import timedelta
from importlib import import_module

from allauth.mfa.models import Authenticator
from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.backends.base import SessionBase
from django.db.models import QuerySet, Sum
from django.utils import timezone

from accounts.mfa import KINDS
from accounts.models import UserSession
from audit.models import AuditEntry
from audit.services import RequestMeta, audit_entry_create
from core.typing import Actor


def _session_store() -> type[SessionBase]:
    """Return the SessionStore class of the configured session engine (db, cache, cached_db)."""
    return import_module(settings.SESSION_ENGINE).SessionStore


def user_session_record(*, user: User, session_key: str, meta: RequestMeta) -> UserSession:
    """Remember that `user` signed in with this session, and forget sessions too old to be alive."""
    now = timezone.now()
    # No session outlives the absolute lifetime, so older rows only name dead sessions.
    UserSession.objects.filter(
        created_at__lt=now - timedelta(hours=settings.SESSION_ABSOLUTE_HOURS)
    ).delete()
    session, _ = UserSession.objects.update_or_create(
        session_key=session_key,
        defaults={
            "user": user,
            "created_at": now,
            "ip_address": meta.ip_address,
            "user_agent": meta.user_agent[:512],
        },
    )
    return session


def user_session_forget(*, session_key: str | None) -> None:
    """Drop the record of a signed-out or ended session (the session itself is left alone)."""
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()


def user_session_rekey(*, old_key: str, new_key: str) -> None:
    """Follow a session whose key changed while signed in (e.g. after a password change)."""
    UserSession.objects.filter(session_key=new_key).exclude(session_key=old_key).delete()
    UserSession.objects.filter(session_key=old_key).update(session_key=new_key)


def user_sessions_end(
    *,
    user: User,
    by: Actor = None,
    meta: RequestMeta | None = None,
    session_keys: list[str] | None = None,
) -> int:
    """End every session of `user` (or those of `session_keys`); return how many were recorded.

    With `by` (the administrator who asked), the ending is audited.
    """
    store = _session_store()
    recorded = UserSession.objects.filter(user=user)
    if session_keys is not None:
        recorded = recorded.filter(session_key__in=session_keys)
    keys = list(recorded.values_list("session_key", flat=True))
    for key in keys:
        store(session_key=key).delete()
    UserSession.objects.filter(session_key__in=keys).delete()
    if by is not None:
        audit_entry_create(
            user=by,
            meta=meta or RequestMeta(),
            action=AuditEntry.Action.SESSIONS_ENDED,
            outcome=AuditEntry.Outcome.SUCCEEDED,
            object_repr=f"user {user.get_username()}",
            reason=f"{len(keys)} signed-in session(s) ended by an administrator",
        )
    return len(keys)


def user_sign_in_unlock(*, username: str, by: Actor, meta: RequestMeta) -> int:
    """Clear the failed sign-ins recorded for a user name, lifting its lockout; return how many.

    Audited. A lock on an address the user shares stays: clear that in the access attempts.
    """
    count = (
        AccessAttempt.objects.filter(username=username).aggregate(
            failures=Sum("failures_since_start")
        )["failures"]
        or 0
    )
    axes_reset(username=username)
    audit_entry_create(
        user=by,
        meta=meta,
        action=AuditEntry.Action.UNLOCKED,
        outcome=AuditEntry.Outcome.SUCCEEDED,
        object_repr=f"user {username}",
        reason=f"{count} failed sign-in(s) cleared",
    )
    return count


def sign_in_attempts_clear(
    *, attempts: QuerySet[AccessAttempt], by: Actor, meta: RequestMeta
) -> int:
    """Delete failed-sign-in records (lifting the lockouts they cause); audited."""
    rows = list(attempts.values_list("pk", "username", "ip_address"))
    AccessAttempt.objects.filter(pk__in=[pk for pk, _, _ in rows]).delete()
    cleared = sorted({f"{name or '(no name)'} from {ip or '?'}" for _, name, ip in rows})
    if cleared:
        audit_entry_create(
            user=by,
            meta=meta,
            action=AuditEntry.Action.UNLOCKED,
            outcome=AuditEntry.Outcome.SUCCEEDED,
            object_repr=", ".join(cleared)[:200],
            reason="Failed sign-in records cleared: " + ", ".join(cleared),
        )
    return len(rows)


def authenticators_remove(
    *, authenticators: QuerySet[Authenticator], by: Actor, meta: RequestMeta
) -> int:
    """Delete MFA methods (a lost phone or key), audited per user; return how many.

    The user is then asked to enrol a new one at their next password sign-in, if their role
    needs one.
    """
    removed = 0
    for authenticator in authenticators.select_related("user"):
        user = authenticator.user
        kind = KINDS.get(authenticator.type, authenticator.type)
        authenticator.delete()
        removed += 1
        audit_entry_create(
            user=by,
            meta=meta,
            action=AuditEntry.Action.MFA_REMOVED,
            outcome=AuditEntry.Outcome.SUCCEEDED,
            object_repr=f"user {user.get_username()}",
            reason=f"Removed by an administrator: {kind}",
        )
    return removed
