from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEntry(models.Model):
    """One save attempt (or other audited action): who, when, from where, what, and the outcome.

    Shaped like Django's admin `LogEntry`, with the CDP result and one `FieldChange` row per field.
    """

    class Action(models.TextChoices):
        EDIT = "edit", "Edit"

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CONFLICT = "conflict", "Conflict"

    action_time = models.DateTimeField("time (UTC)", default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Kept as it was at the time, so deleting or renaming the user does not rewrite history.
    username = models.CharField(max_length=150)
    ip_address = models.GenericIPAddressField("IP address", null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField("request id", max_length=64, blank=True)
    action = models.CharField(max_length=16, choices=Action)
    consumer_ref = models.CharField("consumer ref", max_length=64, blank=True, db_index=True)
    order_ref = models.CharField("order ref", max_length=64, blank=True, db_index=True)
    object_repr = models.CharField("record", max_length=200, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome)
    cdp_status = models.PositiveSmallIntegerField("CDP status", null=True, blank=True)
    cdp_message = models.TextField("CDP message", blank=True)

    class Meta:
        ordering = ["-action_time", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self):
        record = self.object_repr or self.consumer_ref
        return f"{self.get_action_display()} of {record} by {self.username}"


class FieldChange(models.Model):
    """One field of an audited save: its value before and the value the agent asked for."""

    entry = models.ForeignKey(AuditEntry, on_delete=models.CASCADE, related_name="changes")
    field = models.CharField(max_length=32)
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.field}: {self.old_value!r} → {self.new_value!r}"
