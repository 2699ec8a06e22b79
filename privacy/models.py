"""Erasure requests, and corrections of one person across all their consumer records."""

from django.conf import settings
from django.db import models

from consumers.models import OwnedQuerySet


class ErasureRequest(models.Model):
    """A person CDP erased, whom the back office forgot too: what was asked and what was done.

    Holds refs and counts only, never the person's data.
    """

    guest_ref = models.CharField("guest ref", max_length=64, db_index=True)
    ticket = models.CharField("ticket", max_length=100)
    cdp_confirmed_on = models.DateField("CDP confirmed the erasure on")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The person's order consumers that were forgotten (their refs are on the do-not-send list).
    consumer_refs = models.JSONField(default=list)
    # What was cancelled, deleted and shredded: {"queued_edits_cancelled": 2, ...}.
    counts = models.JSONField(default=dict)
    audit_entry_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"erasure {self.ticket}"


class Rectification(models.Model):
    """One correction of a person (title, names, gender) across their consumer records."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Waiting for you to choose"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        CANCELLED = "cancelled", "Cancelled"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status, default=Status.DRAFT)
    # Every audit entry of the correction carries it as its request id: one search finds them all.
    correlation_id = models.CharField(max_length=64, unique=True)
    guest_ref = models.CharField(max_length=64, blank=True, db_index=True)
    # The consumer the agent started from.
    source_ref = models.CharField(max_length=64, blank=True)
    # {"title": ..., "first_name": ..., "last_name": ..., "gender": ...}: the fields being set.
    wanted = models.JSONField(default=dict)
    reason = models.TextField(blank=True)
    # How complete the list of records is, as the agent was told.
    completeness = models.JSONField(default=list)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    progressed_at = models.DateTimeField(null=True, blank=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"correction {self.pk} ({self.done}/{self.total})"

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100

    @property
    def is_over(self) -> bool:
        return self.status in (self.Status.FINISHED, self.Status.CANCELLED)


class RectificationItem(models.Model):
    """One consumer record of the person: as shown in the preview, and what applying did."""

    class Result(models.TextChoices):
        UNSELECTED = "unselected", "Not chosen"
        WAITING = "waiting", "Waiting"
        APPLIED = "applied", "Corrected in CDP"
        UNCHANGED = "unchanged", "Already correct"
        QUEUED = "queued", "Queued for CDP"
        HELD = "held", "Awaiting approval"
        CONFLICT = "conflict", "Conflict"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped (cancelled)"

    job = models.ForeignKey(Rectification, on_delete=models.CASCADE, related_name="items")
    consumer_ref = models.CharField(max_length=64)
    order_ref = models.CharField(max_length=64, blank=True)
    booking_ref = models.CharField(max_length=100, blank=True)
    order_date = models.DateTimeField(null=True, blank=True)
    # Where the record was found: CDP's orders of the guest, or the cache.
    found_in = models.CharField(max_length=32, blank=True)
    # The editable fields and modifiedAt as the preview showed them: the push checks against it.
    loaded = models.JSONField(default=dict)
    loaded_modified_at = models.DateTimeField(null=True, blank=True)
    # {field: [old, new]} for the fields the correction changes on this record.
    changes = models.JSONField(default=dict)
    result = models.CharField(max_length=16, choices=Result, default=Result.UNSELECTED)
    error = models.TextField(blank=True)
    push_id = models.BigIntegerField(null=True, blank=True)
    entry_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["order_date", "id"]

    def __str__(self) -> str:
        return f"{self.consumer_ref}: {self.result}"
