from django.contrib import admin
from django.http import HttpRequest

from accounts.roles import is_administrator


class BackofficeAdminSite(admin.AdminSite):
    """The Django admin, open to the Administrator role rather than to the `is_staff` flag."""

    site_header = "CDP back office administration"
    site_title = "CDP back office admin"
    index_title = "Users, roles and settings"

    def has_permission(self, request: HttpRequest) -> bool:
        return is_administrator(request.user)
