"""Sign-ins, failed sign-ins and sign-outs go into the audit chain (Django's auth signals)."""

from collections.abc import Callable

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from audit.models import AuditEntry
from audit.services import RequestMeta, audit_entry_create, audit_entry_create_or_count
from core.typing import Actor

# How a user signed in (password, passkey, single sign-on with the provider's amr/acr) is known
# to the app that handles sign-in; it registers a describer here (AppConfig.ready), so that the
# audit app imports none of it. The sign-in entry's reason joins what they say.
sign_in_describers: list[Callable[[HttpRequest], str]] = []


def _meta(request: HttpRequest | None) -> RequestMeta:
    return RequestMeta.from_request(request) if request is not None else RequestMeta()


@receiver(user_logged_in, dispatch_uid="audit-sign-in")
def audit_sign_in(
    sender: object, request: HttpRequest | None, user: Actor, **kwargs: object
) -> None:
    audit_entry_create(
        user=user,
        meta=_meta(request),
        action=AuditEntry.Action.SIGN_IN,
        outcome=AuditEntry.Outcome.SUCCEEDED,
        reason="; ".join(
            filter(None, (describe(request) for describe in sign_in_describers if request))
        ),
    )


@receiver(user_login_failed, dispatch_uid="audit-sign-in-failed")
def audit_sign_in_failed(
    sender: object, credentials: dict, request: HttpRequest | None = None, **kwargs: object
) -> None:
    # `credentials` has the password already replaced by Django; only the username is kept.
    # Anyone can fail to sign in at will (a lockout refuses every try): repeats are counted.
    audit_entry_create_or_count(
        user=None,
        username=str(credentials.get("username", ""))[:150],
        meta=_meta(request),
        action=AuditEntry.Action.SIGN_IN_FAILED,
        outcome=AuditEntry.Outcome.FAILED,
    )


@receiver(user_logged_out, dispatch_uid="audit-sign-out")
def audit_sign_out(
    sender: object, request: HttpRequest | None, user: Actor, **kwargs: object
) -> None:
    if user is not None:
        audit_entry_create(
            user=user,
            meta=_meta(request),
            action=AuditEntry.Action.SIGN_OUT,
            outcome=AuditEntry.Outcome.SUCCEEDED,
        )
