"""Single sign-on use cases: refusing a sign-in, setting roles, re-checking and ending sessions."""

import logging
import time
from dataclasses import dataclass
from typing import Any

import requests
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from allauth.socialaccount.providers.base.constants import AuthError
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.http import HttpRequest

from accounts import roles
from accounts.models import UserSession
from accounts.services import user_sessions_end
from accounts.sso.claims import ROLES
from accounts.sso.errors import REASONS, IdTokenRefused
from accounts.sso.provider import CheckedOpenIDConnectAdapter
from audit.models import AuditEntry
from audit.services import RequestMeta, audit_entry_create, audit_entry_create_or_count

logger = logging.getLogger("backoffice.security")

PROVIDER_ID = "sso"
# Kept in an SSO session: the social account it was signed in with, and when the provider last
# confirmed it (seconds since the epoch).
SESSION_ACCOUNT = "accounts_sso_account"
SESSION_CHECKED_AT = "accounts_sso_checked_at"
# A provider that cannot be reached is asked again after this many seconds.
RETRY_SECONDS = 60
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


@dataclass(frozen=True)
class Refusal:
    """Why an SSO sign-in was refused: a reason code of errors.REASONS and its words."""

    reason: str
    message: str
    detail: str = ""


def sso_sign_in_refuse(
    *, request: HttpRequest, error: Any, exception: Exception | None, context: dict
) -> Refusal | None:
    """Audit a refused SSO sign-in and say why; None when the person cancelled it themselves."""
    if error == AuthError.CANCELLED:
        return None
    detail = ""
    if isinstance(exception, IdTokenRefused):
        reason = exception.reason
    elif isinstance(exception, requests.RequestException):
        reason = "unreachable"
    elif exception is not None:
        reason = "provider_error"
        detail = str(exception)[:200]
    elif "state" not in context:  # allauth found no stashed state for the callback's state
        reason = "state"
    else:
        reason = "provider_error"
        detail = (request.GET.get("error_description") or request.GET.get("error") or "")[:200]
    refusal = Refusal(reason=reason, message=REASONS[reason], detail=detail)
    logger.warning("single sign-on refused: %s %s", reason, detail)
    # Anyone can send a browser to the callback with rubbish: repeats are counted, not each an
    # entry (AUDIT_REPEAT_WINDOW_MINUTES).
    audit_entry_create_or_count(
        user=None,
        meta=RequestMeta.from_request(request),
        action=AuditEntry.Action.SIGN_IN_FAILED,
        outcome=AuditEntry.Outcome.FAILED,
        object_repr=f"single sign-on refused ({reason}): {refusal.message} {detail}".strip(),
    )
    return refusal


def user_roles_sync(*, user: User, role_names: tuple[str, ...]) -> None:
    """Give the user exactly these roles (other groups are left alone): SSO decides them."""
    current = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    if current == set(role_names):
        return
    if not Group.objects.filter(name__in=ROLES).exists():
        roles.ensure_roles()
    user.groups.remove(*Group.objects.filter(name__in=current - set(role_names)))
    user.groups.add(*Group.objects.filter(name__in=set(role_names) - current))
    if hasattr(user, "_role_names"):
        del user._role_names


def sso_session_start(*, request: HttpRequest, user: User, session_id: str) -> None:
    """Mark the new session as an SSO one, to be re-checked, and ended by its provider's sid."""
    account = SocialAccount.objects.filter(user=user, provider=PROVIDER_ID).first()
    if account is None:
        return
    request.session[SESSION_ACCOUNT] = account.pk
    request.session[SESSION_CHECKED_AT] = int(time.time())
    if session_id and request.session.session_key:
        UserSession.objects.filter(session_key=request.session.session_key).update(
            sso_session_id=session_id[:255]
        )


def _provider_adapter(request: HttpRequest) -> CheckedOpenIDConnectAdapter:
    return CheckedOpenIDConnectAdapter(request, PROVIDER_ID)


def _app() -> SocialApp:
    provider = get_social_adapter().get_provider(None, PROVIDER_ID)
    return provider.app


def sso_session_recheck(*, request: HttpRequest) -> bool:
    """Ask the provider, through the refresh token, whether the session may go on.

    Return False when the provider refuses (the person was removed or disabled, the grant
    revoked) or when there is no refresh token to ask with; True when it agrees, and also when
    it cannot be reached, which is tried again a minute later (a provider outage must not sign
    the whole floor out; the break-glass account covers the opposite case).
    """
    token = SocialToken.objects.filter(account_id=request.session.get(SESSION_ACCOUNT)).first()
    if token is None or not token.token_secret:
        return False
    app = _app()
    try:
        endpoint = _provider_adapter(request).access_token_url
        with get_social_adapter().get_requests_session() as session:
            response = session.post(
                endpoint,
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": token.token_secret,
                    "client_id": app.client_id,
                    "client_secret": app.secret,
                },
            )
    except requests.RequestException as error:
        logger.warning("single sign-on re-check: provider unreachable (%s)", type(error).__name__)
        request.session[SESSION_CHECKED_AT] = int(time.time()) - _recheck_seconds() + RETRY_SECONDS
        return True
    if response.status_code >= 500:
        logger.warning("single sign-on re-check: provider answered %s", response.status_code)
        request.session[SESSION_CHECKED_AT] = int(time.time()) - _recheck_seconds() + RETRY_SECONDS
        return True
    if response.status_code != 200:
        logger.info("single sign-on re-check refused: HTTP %s", response.status_code)
        return False
    answer = response.json()
    token.token = answer.get("access_token", token.token)
    # Providers that rotate refresh tokens send a new one; the old one no longer works.
    token.token_secret = answer.get("refresh_token", token.token_secret)
    token.save(update_fields=["token", "token_secret"])
    request.session[SESSION_CHECKED_AT] = int(time.time())
    return True


def _recheck_seconds() -> int:
    return max(settings.OIDC_RECHECK_MINUTES, 0) * 60


def sso_session_due(*, request: HttpRequest) -> bool:
    """Tell whether this SSO session is due for a re-check with the provider."""
    checked_at = request.session.get(SESSION_CHECKED_AT)
    if checked_at is None:
        return False
    return time.time() - checked_at >= _recheck_seconds()


class LogoutTokenInvalid(Exception):
    """A back-channel logout token failed a check; the message says which."""


def sso_backchannel_logout(*, request: HttpRequest, logout_token: str) -> int:
    """End the sessions a provider's logout token names (Back-Channel Logout 1.0, section 2.6).

    Return how many ended. The token is verified like an ID token (signature, issuer, audience,
    expiry, single use by jti), must carry the logout event and no nonce, and names a `sub`, a
    `sid` or both.
    """
    app = _app()
    config = _provider_adapter(request).openid_config
    meta = RequestMeta.from_request(request)
    try:
        claims = jwtkit.verify_and_decode(
            credential=logout_token,
            keys_url=config["jwks_uri"],
            issuer=config["issuer"],
            audience=app.client_id,
            lookup_kid=jwtkit.lookup_kid_jwk,
        )
    except (OAuth2Error, requests.RequestException, ValueError) as error:
        raise LogoutTokenInvalid(f"the logout token was refused: {error}") from error
    events = claims.get("events")
    if not isinstance(events, dict) or BACKCHANNEL_EVENT not in events:
        raise LogoutTokenInvalid("the logout token carries no back-channel logout event")
    if "nonce" in claims:
        raise LogoutTokenInvalid("a logout token must not carry a nonce")
    subject, session_id = claims.get("sub"), claims.get("sid")
    if not subject and not session_id:
        raise LogoutTokenInvalid("the logout token names neither a sub nor a sid")
    sessions = UserSession.objects.filter(sso_session_id__gt="")
    if session_id:
        sessions = sessions.filter(sso_session_id=session_id)
    if subject:
        accounts = SocialAccount.objects.filter(provider=PROVIDER_ID, uid=subject)
        sessions = sessions.filter(user__in=accounts.values("user"))
    ended = 0
    for user in User.objects.filter(pk__in=sessions.values("user")):
        keys = list(sessions.filter(user=user).values_list("session_key", flat=True))
        ended += user_sessions_end(user=user, session_keys=keys)
        audit_entry_create(
            user=user,
            meta=meta,
            action=AuditEntry.Action.SESSIONS_ENDED,
            outcome=AuditEntry.Outcome.SUCCEEDED,
            object_repr=f"user {user.get_username()}",
            reason=f"{len(keys)} session(s) ended by the identity provider (back-channel logout)",
        )
    return ended


def sso_session_end(*, request: HttpRequest, user: User) -> None:
    """Audit that the provider no longer vouches for this session (the caller ends it)."""
    audit_entry_create(
        user=user,
        meta=RequestMeta.from_request(request),
        action=AuditEntry.Action.SESSIONS_ENDED,
        outcome=AuditEntry.Outcome.SUCCEEDED,
        object_repr=f"user {user.get_username()}",
        reason="Session ended: the identity provider no longer accepts the sign-in (re-check).",
    )
