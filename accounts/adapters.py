"""How allauth behaves here: no sign-up, one lockout (axes), SSO roles, clear refusals."""

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from django.conf import settings
from django.http import HttpRequest
from django.shortcuts import render
from django.urls import reverse

from accounts import roles
from accounts.mfa import MFA_SECRET_PURPOSE
from accounts.sso import claims as sso_claims
from accounts.sso import services as sso_services
from core import crypto


class AccountAdapter(DefaultAccountAdapter):
    """Local accounts: administrators create them; django-axes counts failed passwords."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        # allauth would count failed passwords in the cache as well; django-axes already does,
        # with the audited lockout administrators can see and lift (settings.py, AXES_*).
        return None

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        # Someone signed in without a role can open nothing: tell them whom to ask.
        if not roles.role_names(request.user) and not request.user.is_superuser:
            return reverse("accounts:no_role")
        return super().get_login_redirect_url(request)

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        # The back office sends no e-mail: sign-ins and MFA changes are in the audit log.
        return None


class MFAAdapter(DefaultMFAAdapter):
    """MFA: secrets encrypted at rest, no notification e-mails (the audit log has every change)."""

    def encrypt(self, text: str) -> str:
        # The TOTP key and the recovery codes' seed: whoever reads them can compute the codes, so
        # they are kept like CDP's API tokens (AES-256-GCM under FIELD_ENCRYPTION_KEY).
        return crypto.encrypt(text, purpose=MFA_SECRET_PURPOSE)

    def decrypt(self, encrypted_text: str) -> str:
        return crypto.decrypt(encrypted_text, purpose=MFA_SECRET_PURPOSE)

    def send_notification_mail(self, *args: Any, **kwargs: Any) -> None:
        return None

    def _get_site_name(self) -> str:
        # What passkey prompts call the site (the relying party's name).
        return "CDP back office"


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Single sign-on: people are created at first sign-in; every refusal is audited."""

    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return True

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        # Read once here; the roles are set and the audit entry written as the user signs in.
        sign_in = sso_claims.remember(request, sociallogin)
        if not sign_in.roles:
            # Wherever they were going, there is nothing they can open: say whom to ask.
            sociallogin.state["next"] = reverse("accounts:no_role")

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: Any = None,
        exception: Exception | None = None,
        extra_context: dict | None = None,
    ) -> None:
        refusal = sso_services.sso_sign_in_refuse(
            request=request, error=error, exception=exception, context=extra_context or {}
        )
        if refusal is None:  # the person cancelled at the provider: allauth's page says so
            return
        raise ImmediateHttpResponse(
            render(
                request,
                "accounts/sso_refused.html",
                {"refusal": refusal, "contact": settings.ACCESS_CONTACT},
                status=401,
            )
        )
