import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from accounts import mfa, services
from accounts.receivers import RECORDED_KEY, SIGNED_IN_AT
from accounts.sso import services as sso_services

logger = logging.getLogger("backoffice.security")


async def _anonymous_user() -> AnonymousUser:
    return AnonymousUser()


class SessionLifetimeMiddleware:
    """End a session that many hours after sign-in, and say why a session ended (ASVS 7.3.2).

    The idle timeout needs no code: every request pushes the session's expiry SESSION_COOKIE_AGE
    ahead (SESSION_SAVE_EVERY_REQUEST). This also keeps the record of a session in step when its
    key changes while signed in, so that it can still be ended.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            signed_in_at = request.session.get(SIGNED_IN_AT)
            # A signed-in session without the time is from before this check: end it too.
            if signed_in_at is None or time.time() - signed_in_at > self._absolute_seconds():
                self._end(request)
        elif settings.SESSION_COOKIE_NAME in request.COOKIES and request.session.is_empty():
            # The browser still holds a session the server no longer has.
            messages.info(
                request,
                "Your session has ended. A session ends after "
                f"{settings.SESSION_COOKIE_AGE // 60} minutes without activity, "
                f"{settings.SESSION_ABSOLUTE_HOURS:g} hours after signing in, "
                "or when an administrator ends it. Sign in again.",
            )
        response = self.get_response(request)
        self._follow_key_change(request)
        return response

    @staticmethod
    def _absolute_seconds() -> float:
        return settings.SESSION_ABSOLUTE_HOURS * 3600

    @staticmethod
    def _end(request: HttpRequest) -> None:
        logger.info("session ended: absolute lifetime reached user=%s", request.user.get_username())
        services.user_session_forget(session_key=request.session.session_key)
        request.session.flush()
        request.user = AnonymousUser()
        request.auser = _anonymous_user
        messages.warning(
            request,
            f"You signed in more than {settings.SESSION_ABSOLUTE_HOURS:g} hours ago, so your "
            "session has ended. Sign in again.",
        )

    @staticmethod
    def _follow_key_change(request: HttpRequest) -> None:
        session = getattr(request, "session", None)
        if session is None:
            return
        recorded = session.get(RECORDED_KEY)
        current = session.session_key
        if recorded and current and recorded != current:
            services.user_session_rekey(old_key=recorded, new_key=current)
            session[RECORDED_KEY] = current


# Pages a user who must enrol a second factor, or whose SSO session is being ended, may open.
_ENROLMENT_PAGES = {"login", "logout", "account_login", "account_logout", "account_reauthenticate"}


class MFARequiredMiddleware:
    """Send supervisors and administrators who signed in with a password to enrol MFA.

    allauth asks for the second factor at sign-in once one is enrolled; this covers the sign-in
    before that, so no password alone opens a supervisor's or administrator's pages (ASVS 6.3.3).
    MFA_REQUIRED_FOR_ALL extends it to every local account. SSO sign-ins are left to the provider.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable, args: tuple, kwargs: dict
    ) -> HttpResponse | None:
        user = request.user
        if not user.is_authenticated or not mfa.signed_in_with_password(request):
            return None
        match = request.resolver_match
        name = match.url_name if match else ""
        if name in _ENROLMENT_PAGES or (name or "").startswith("mfa_"):
            return None
        if not mfa.mfa_required(user) or mfa.mfa_enrolled(user):
            return None
        messages.warning(
            request,
            "Your role needs a second factor to sign in with a password: add a passkey or an "
            "authenticator app (TOTP) before you go on.",
            fail_silently=True,
        )
        return redirect("mfa_index")


class SSORecheckMiddleware:
    """End an SSO session once the identity provider no longer vouches for it.

    Every OIDC_RECHECK_MINUTES the session's refresh token is sent to the provider; a refusal
    (the person was disabled or removed, the grant revoked) ends the session at once.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and sso_services.sso_session_due(request=request)
            and not sso_services.sso_session_recheck(request=request)
        ):
            logger.info("session ended: SSO re-check refused user=%s", user.get_username())
            sso_services.sso_session_end(request=request, user=user)
            services.user_session_forget(session_key=request.session.session_key)
            request.session.flush()
            request.user = AnonymousUser()
            request.auser = _anonymous_user
            messages.warning(
                request,
                f"{settings.OIDC_PROVIDER_NAME} no longer accepts your sign-in, so your session "
                "has ended. Sign in again; if that fails, ask "
                f"{settings.ACCESS_CONTACT} about your access.",
            )
        return self.get_response(request)
