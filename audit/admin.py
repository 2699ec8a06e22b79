from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditEntry, FieldChange
from core.admin import BoundedDateHierarchyMixin


class FieldChangeInline(admin.TabularInline):
    model = FieldChange
    # Decrypted, or "erased"; the stored ciphertext says nothing to a reader.
    fields = readonly_fields = ("field", "old_text", "new_text")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(BoundedDateHierarchyMixin, admin.ModelAdmin):
    """The audit log, for reading only: nobody adds, changes or deletes entries here."""

    list_display = [
        "action_time",
        "username",
        "action",
        "record_text",
        "consumer_ref",
        "outcome",
        "cdp_status",
    ]
    list_filter = ["outcome", "action"]
    search_fields = ["=consumer_ref", "=order_ref", "username", "object_repr"]
    date_hierarchy = "action_time"
    inlines = [FieldChangeInline]

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return ["record_text", "reason_text", *(field.name for field in self.model._meta.fields)]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
