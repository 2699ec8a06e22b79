"""Record sessions at sign-in, forget them at sign-out, end them on deactivation; audit lockouts."""

import time
from dataclasses import replace

from axes.helpers import get_failure_limit
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver
from django.http import HttpRequest

from accounts import services
from accounts.sso import claims as sso_claims
from accounts.sso import services as sso_services
from audit.models import AuditEntry
from audit.services import RequestMeta, audit_entry_create

# Kept in the session: when the user signed in (seconds since the epoch), for the absolute
# lifetime, and the key the session was recorded under, to follow a key change.
SIGNED_IN_AT = "accounts_signed_in_at"
RECORDED_KEY = "accounts_session_key"


def _meta(request: HttpRequest) -> RequestMeta:
    return RequestMeta.from_request(request)


@receiver(user_logged_in, dispatch_uid="accounts-record-session")
def record_session(
    sender: object, request: HttpRequest | None, user: User, **kwargs: object
) -> None:
    if request is None or not hasattr(request, "session"):
        return
    session = request.session
    if session.session_key is None:
        # login() flushed another user's session: give the new one its key now.
        session.save()
    key = session.session_key
    if key is None:  # a session store that gives out no key has no session to record
        return
    session[SIGNED_IN_AT] = int(time.time())
    session[RECORDED_KEY] = key
    services.user_session_record(user=user, session_key=key, meta=_meta(request))
    sso = sso_claims.remembered(request)
    if sso is not None:
        # The provider's groups decide the roles at every sign-in: a removed group removes one.
        sso_services.user_roles_sync(user=user, role_names=sso.roles)
        sso_services.sso_session_start(request=request, user=user, session_id=sso.session_id)


@receiver(user_logged_out, dispatch_uid="accounts-forget-session")
def forget_session(
    sender: object, request: HttpRequest | None, user: object, **kwargs: object
) -> None:
    # Django's logout() deletes the session from the store right after this signal.
    if request is not None and hasattr(request, "session"):
        services.user_session_forget(session_key=request.session.session_key)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts-deactivated")
def end_sessions_of_deactivated_user(sender: type, instance: User, **kwargs: object) -> None:
    if not instance.is_active:
        services.user_sessions_end(user=instance)


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts-deleted")
def end_sessions_of_deleted_user(sender: type, instance: User, **kwargs: object) -> None:
    services.user_sessions_end(user=instance)


@receiver(user_locked_out, dispatch_uid="accounts-audit-lockout")
def audit_lockout(
    sender: object, request: HttpRequest, username: str, ip_address: str, **kwargs: object
) -> None:
    # axes signals on every failed attempt at or over the limit; the entry marks the moment the
    # lock starts, and the attempts made while locked are audited as failed sign-ins.
    failures = getattr(request, "axes_failures_since_start", None)
    limit = get_failure_limit(request, None)
    if failures != limit:
        return
    cool_off = settings.AXES_COOLOFF_TIME
    until = (
        f"for {int(cool_off.total_seconds() // 60)} minutes"
        if cool_off
        else "until an administrator unlocks it"
    )
    audit_entry_create(
        user=None,
        username=str(username or "")[:150],
        meta=replace(_meta(request), ip_address=ip_address or None),
        action=AuditEntry.Action.LOCKED_OUT,
        outcome=AuditEntry.Outcome.FAILED,
        reason=f"{failures} failed sign-ins: signing in is locked {until}.",
    )
