from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList

from accounts.roles import is_administrator


class BackofficeAdminSite(admin.AdminSite):
    """The Django admin, open to the Administrator role rather than to the `is_staff` flag."""

    site_header = "CDP back office administration"
    site_title = "CDP back office admin"
    index_title = "Users, roles and settings"

    def has_permission(self, request) -> bool:
        return is_administrator(request.user)


class BoundedChangeList(ChangeList):
    """Django's change list, with a date drill-down into the year 9999 refused, not a 500.

    Django works out the end of the year, month or day asked for outside its own check of the
    date, and the end of 9999 does not exist.
    """

    def get_filters(self, request):
        try:
            return super().get_filters(request)
        except (OverflowError, ValueError) as error:
            raise IncorrectLookupParameters(error) from error


class BoundedDateHierarchyMixin:
    """For a ModelAdmin with a `date_hierarchy`: use the change list above."""

    def get_changelist(self, request, **kwargs):
        return BoundedChangeList
