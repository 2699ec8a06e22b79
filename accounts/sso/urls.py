"""The OpenID Connect sign-in URLs (allauth's names), with the checking callback."""

from allauth.account.internal.decorators import login_not_required
from allauth.socialaccount import app_settings
from allauth.socialaccount.providers.openid_connect import views as allauth_views
from django.urls import include, path

from accounts.sso import provider

urlpatterns = [
    path(
        f"{app_settings.OPENID_CONNECT_URL_PREFIX}/<str:provider_id>/",
        include(
            [
                path("login/", allauth_views.login, name="openid_connect_login"),
                path(
                    "login/callback/",
                    login_not_required(provider.callback),
                    name="openid_connect_callback",
                ),
            ]
        ),
    )
]
