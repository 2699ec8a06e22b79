"""Signing in: allauth's pages that the back office uses, and its own two."""

from allauth.account import urls as account_urls
from allauth.socialaccount import urls as socialaccount_urls
from django.urls import URLPattern, URLResolver, include, path

from accounts import views

app_name = "accounts"

# allauth's pages the back office uses: no sign-up, e-mail, password reset or sign-in codes,
# since administrators create the accounts and set their passwords (docs/security.md).
_ACCOUNT_PAGES = {
    "account_login",
    "account_logout",
    "account_inactive",
    "account_reauthenticate",
    "account_change_password",
}
_SOCIALACCOUNT_PAGES = {"socialaccount_login_cancelled", "socialaccount_login_error"}


def _only(patterns: list, names: set[str]) -> list[URLPattern | URLResolver]:
    return [p for p in patterns if isinstance(p, URLPattern) and p.name in names]


# Included at the top level of the URLconf (allauth reverses its names without a namespace).
allauth_urlpatterns: list[URLPattern | URLResolver] = [
    *_only(account_urls.urlpatterns, _ACCOUNT_PAGES),
    path("2fa/", include("allauth.mfa.urls")),
    path("3rdparty/", include(_only(socialaccount_urls.urlpatterns, _SOCIALACCOUNT_PAGES))),
    path("", include("accounts.sso.urls")),
]

urlpatterns = [
    path("no-role/", views.no_role, name="no_role"),
    path("oidc/backchannel-logout/", views.backchannel_logout, name="backchannel_logout"),
]
