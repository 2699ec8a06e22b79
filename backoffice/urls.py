from allauth.account import views as allauth_views
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from accounts.urls import allauth_urlpatterns
from backoffice import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # allauth's sign-in and sign-out (accounts/), under the names the templates and tests use.
    path("accounts/login/", allauth_views.login, name="login"),
    path("accounts/logout/", allauth_views.logout, name="logout"),
    path("accounts/", include("accounts.urls")),
    path("accounts/", include(allauth_urlpatterns)),
    # The admin's own sign-in form would skip MFA: everyone signs in on the one page.
    path(
        "admin/login/",
        RedirectView.as_view(pattern_name="login", query_string=True),
        name="admin_login_redirect",
    ),
    path("admin/", admin.site.urls),
    # /audit/<pk>/revert/ is the consumers app's (consumers/urls.py): it reverts the change in CDP.
    path("audit/", include("audit.urls")),
    path("dashboard/", include("dashboard.urls")),
    path("approvals/", include("approvals.urls")),
    path("privacy/", include("privacy.urls")),
    path("", include("consumers.urls")),
]

handler403 = "backoffice.views.permission_denied"
