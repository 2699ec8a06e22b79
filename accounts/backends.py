"""Password sign-in: allauth's backend, closed to all but superusers when SSO_ONLY is on."""

from typing import Any

from allauth.account.auth_backends import AuthenticationBackend
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest


def password_refused(username: str) -> bool:
    """Tell whether SSO_ONLY refuses this user name a password sign-in (all but superusers)."""
    if not settings.SSO_ONLY:
        return False
    # A superuser is the break-glass account (docs/sso.md); anyone else signs in with SSO.
    return not get_user_model().objects.filter(username=username, is_superuser=True).exists()


class PasswordBackend(AuthenticationBackend):
    """Check user name and password, unless SSO_ONLY closes passwords to this user.

    Only `authenticate` is narrowed: `get_user` (every request of a signed-in session, SSO ones
    included) stays as it is.
    """

    def authenticate(
        self, request: HttpRequest | None, **credentials: Any
    ) -> AbstractBaseUser | None:
        username = credentials.get("username") or ""
        if password_refused(str(username)):
            return None
        return super().authenticate(request, **credentials)
