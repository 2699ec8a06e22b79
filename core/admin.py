"""Django admin pieces every app's admin may use."""

from typing import Any

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.http import HttpRequest


class BoundedChangeList(ChangeList):
    """Django's change list, with a date drill-down into the year 9999 refused, not a 500.

    Django works out the end of the year, month or day asked for outside its own check of the
    date, and the end of 9999 does not exist.
    """

    def get_filters(self, request: HttpRequest) -> Any:
        try:
            return super().get_filters(request)
        except (OverflowError, ValueError) as error:
            raise IncorrectLookupParameters(error) from error


class BoundedDateHierarchyMixin:
    """For a ModelAdmin with a `date_hierarchy`: use the change list above."""

    def get_changelist(self, request: HttpRequest, **kwargs: object) -> type[ChangeList]:
        return BoundedChangeList
