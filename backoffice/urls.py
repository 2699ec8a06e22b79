from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from backoffice import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # /audit/<pk>/revert/ is the consumers app's (consumers/urls.py): it reverts the change in CDP.
    path("audit/", include("audit.urls")),
    path("dashboard/", include("dashboard.urls")),
    path("", include("consumers.urls")),
]

handler403 = "backoffice.views.permission_denied"
