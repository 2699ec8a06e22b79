"""The Django admin's view of the cache and the pushes: read-only, for administrators."""

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from consumers.models import Order, OrderConsumer, Push, ReasonTemplate
from core.admin import BoundedDateHierarchyMixin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Cached CDP copies change only through the services that talk to CDP, never by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False


@admin.register(OrderConsumer)
class OrderConsumerAdmin(BoundedDateHierarchyMixin, ReadOnlyAdmin):
    list_display = ["__str__", "ref", "order_ref", "cdp_modified_at", "fetched_at"]
    search_fields = ["=ref", "=order_ref", "last_name", "first_name"]
    date_hierarchy = "fetched_at"


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["reference_id", "ref", "status", "ordered_at", "fetched_at"]
    search_fields = ["=ref", "reference_id"]


@admin.register(Push)
class PushAdmin(ReadOnlyAdmin):
    list_display = ["consumer_ref", "user", "status", "created_at", "finished_at"]
    list_filter = ["status"]
    search_fields = ["=consumer_ref"]

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False


@admin.register(ReasonTemplate)
class ReasonTemplateAdmin(admin.ModelAdmin):
    """The common reasons the edit form offers; agents may still type their own."""

    # Edited on each reason's own page: the admin's list_editable inputs carry no labels.
    list_display = ["text", "position", "active"]
    list_filter = ["active"]
    search_fields = ["text"]
