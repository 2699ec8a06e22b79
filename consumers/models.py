"""The back office's own records: the cached copies of CDP's orders and consumers, the edits on
their way to CDP (pushes), who opened which consumer, and bulk refreshes with their items."""

from datetime import datetime, timedelta
from typing import Any, Self

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models
from django.utils import timezone

from consumers import records
from consumers.search import KEY_MAX_LENGTH, name_keys


class Order(models.Model):
    """The last copy fetched from CDP of an order, kept for its reference id and status."""

    ref = models.CharField(max_length=64, unique=True)
    reference_id = models.CharField("reference id", max_length=100, blank=True, db_index=True)
    status = models.CharField(max_length=32, blank=True)
    ordered_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField("CDP record", default=dict)
    # {item ref: what CDP says the item is} (consumers.items.item_summary), read with the order.
    items = models.JSONField("order items", default=dict, blank=True)
    # The order's consumer refs in CDP's order, as last listed: the order of its travellers.
    consumer_refs = models.JSONField(default=list, blank=True)
    fetched_at = models.DateTimeField()

    class Meta:
        ordering = ["-ordered_at"]

    def __str__(self) -> str:
        return self.reference_id or self.ref

    @property
    def item_refs(self) -> list[str]:
        """The items' refs by their reference ids (PostgreSQL's jsonb keeps no key order)."""
        items = self.items if isinstance(self.items, dict) else {}
        return sorted(items, key=lambda ref: (str(items[ref].get("reference", "")), ref))


class OrderConsumer(models.Model):
    """The last copy fetched from CDP of an order consumer (a traveller or passenger)."""

    ref = models.CharField(max_length=64, unique=True)
    order_ref = models.CharField(max_length=64, db_index=True)
    title = models.CharField(max_length=50, blank=True)
    first_name = models.CharField(max_length=255)
    last_name = models.CharField(max_length=255)
    gender = models.CharField(max_length=16, blank=True)
    guest_ref = models.CharField(max_length=64, blank=True)
    # The linked guest's name when the record was fetched, so the page needs no extra CDP call.
    guest_name = models.CharField(max_length=512, blank=True)
    order_item_refs = models.JSONField(default=list, blank=True)
    # Named here: Django would call them "Cdp created at" in the admin.
    cdp_created_at = models.DateTimeField("created in CDP", null=True, blank=True)
    cdp_modified_at = models.DateTimeField("last changed in CDP", null=True, blank=True)
    # The whole record as CDP last returned it, attributes the form never shows included.
    raw = models.JSONField("CDP record", default=dict)
    fetched_at = models.DateTimeField()
    # When CDP last could not be asked about the consumer, and why; cleared by the next fetch.
    # Until then the copy is shown as "Not checked", never as in step with CDP.
    fetch_failed_at = models.DateTimeField(null=True, blank=True, editable=False)
    fetch_error = models.TextField(blank=True, editable=False)
    # When an agent last opened the consumer; `purge_cache` drops copies nobody has viewed lately.
    last_viewed_at = models.DateTimeField(null=True, blank=True)
    # Held by one save at a time, so two saves of the same consumer never race each other to CDP.
    push_lock_token = models.CharField(max_length=32, blank=True, editable=False)
    push_lock_until = models.DateTimeField(null=True, blank=True, editable=False)
    # The names' search keys (consumers.search.name_keys): what the search by name matches.
    first_key = models.CharField(max_length=KEY_MAX_LENGTH, blank=True, editable=False)
    last_key = models.CharField(max_length=KEY_MAX_LENGTH, blank=True, editable=False)
    name_key = models.CharField(max_length=2 * KEY_MAX_LENGTH, blank=True, editable=False)

    class Meta:
        ordering = ["last_name", "first_name"]
        # The search by name uses expression indexes on PostgreSQL (migration 0017); a plain index
        # on the name would tempt the planner into walking the whole table in name order.
        indexes = [models.Index(fields=["-fetched_at"], name="consumer_recent_idx")]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The keys follow the names wherever a row is written through the model; the services'
        # bulk writes set them from the same function (services.consumer_save).
        for column, key in name_keys(self.first_name, self.last_name).items():
            setattr(self, column, key)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"first_name", "last_name"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "first_key", "last_key", "name_key"}
        super().save(*args, **kwargs)

    @property
    def display_name(self) -> str:
        return " ".join(part for part in (self.title, self.first_name, self.last_name) if part)

    def editable_values(self) -> dict:
        """Return the fields an agent may edit, as the cache holds them."""
        return {name: getattr(self, name) for name in records.NAMES}


# Supervisors (and administrators) hold this permission: they may open and act on everyone's
# conflicts, queued edits and bulk refreshes; an agent only on their own (accounts/roles.py).
SUPERVISE_PERMISSION = "consumers.manage_push"


def sees_everyones_work(user: User) -> bool:
    """Say whether the user may open and act on other agents' edits and refreshes."""
    return user.has_perm(SUPERVISE_PERMISSION)


class OwnedQuerySet(models.QuerySet):
    def visible_to(self, user: User) -> Self:
        """The rows the user may open: their own, or every row for a supervisor."""
        return self if sees_everyones_work(user) else self.filter(user=user)


class PushQuerySet(OwnedQuerySet):
    def needing_attention(self) -> Self:
        """Pushes people should know about: waiting to be sent, in conflict, or failed in the queue.

        An edit that failed while the agent watched was shown to them; one that failed later in
        the queue is listed for a week.
        """
        week_ago = timezone.now() - timedelta(days=7)
        return self.filter(
            models.Q(status__in=Push.WAITING)
            | models.Q(status=Push.Status.CONFLICT, resolution="")
            | models.Q(
                status=Push.Status.FAILED, queued_at__isnull=False, finished_at__gte=week_ago
            )
        ).order_by("created_at")


class Push(models.Model):
    """One edit on its way to CDP: recorded before the first call, so it is never lost.

    An edit CDP could not take (unreachable, timing out, failing) stays here as *pending* and the
    worker (`consumers.tasks`) tries again; a conflict waits here for the agent to re-apply or
    discard it.
    """

    class Status(models.TextChoices):
        SENDING = "sending", "Sending"
        PENDING = "pending", "Queued"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CONFLICT = "conflict", "Conflict"
        CANCELLED = "cancelled", "Cancelled"

    # The statuses of a push that CDP has not taken yet but will be tried again.
    WAITING = (Status.PENDING, Status.SENDING)

    class Resolution(models.TextChoices):
        REAPPLIED = "reapplied", "Re-applied to CDP's version"
        DISCARDED = "discarded", "Discarded"

    consumer_ref = models.CharField(max_length=64, db_index=True)
    order_ref = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField("record", max_length=200, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Where the edit came from, for the audit entries the worker writes later on its behalf.
    ip_address = models.GenericIPAddressField("IP address", null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    reason = models.TextField(blank=True)
    # Set when the push reverts an audited change (an audit entry id).
    reverts_id = models.BigIntegerField(null=True, blank=True)
    # The revert is its author's undo of their own save (audited as an undo, not a revert).
    undo = models.BooleanField(default=False)
    # The *pending* audit entry written when the push was first queued: the entry of its final
    # outcome settles it, so the dashboard counts the save once.
    pending_entry_id = models.BigIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Every editable field as the agent loaded it, and {field: [old, new]} for those they changed.
    loaded = models.JSONField(default=dict)
    changes = models.JSONField(default=dict)
    loaded_modified_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status, default=Status.SENDING, db_index=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    attempt_started_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    # The next counted try (the backoff slot), and an earlier free one when CDP seems back (a
    # wake) or the queue probes for it; a free try that fails keeps the slot and the count.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    woken_at = models.DateTimeField(null=True, blank=True, editable=False)
    # No try before this: an update whose answer was lost may still land until then.
    not_before = models.DateTimeField(null=True, blank=True, editable=False)
    resolution = models.CharField(max_length=16, choices=Resolution, blank=True)
    # Who re-applied or discarded a conflict and when, and the audit entry that followed (the
    # re-applied save's, or the discard's), so a resolved conflict reads as history.
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    resolved_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolution_entry_id = models.BigIntegerField(null=True, blank=True, editable=False)
    # CDP's editable fields and modifiedAt when the conflict was found: the version the agent
    # was shown, kept because CDP's record moves on.
    cdp_values = models.JSONField("CDP's version at the conflict", default=dict, blank=True)
    cdp_modified_at = models.DateTimeField(
        "CDP's modifiedAt at the conflict", null=True, blank=True
    )

    objects = PushQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "pushes"
        permissions = [("manage_push", "Can retry or cancel queued edits")]

    def __str__(self) -> str:
        return f"push of {self.consumer_ref} ({self.status})"

    @property
    def edited(self) -> dict:
        """Every editable field as the agent wanted it: what they loaded with their changes."""
        return {**self.loaded, **{field: new for field, (_, new) in self.changes.items()}}

    @property
    def next_try_at(self) -> datetime | None:
        """When the worker tries the edit next: its slot, or sooner if woken or probing."""
        times = [moment for moment in (self.woken_at, self.next_attempt_at) if moment]
        return min(times) if times else None

    @property
    def needs_attention(self) -> bool:
        return self.status == self.Status.CONFLICT and not self.resolution

    def handled_by(self, user: User) -> bool:
        """Say whether the user may open and act on this edit: theirs, or they supervise."""
        return self.user_id == user.pk or sees_everyones_work(user)


class ConsumerView(models.Model):
    """When an agent last opened a consumer: their list of recent consumers."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    consumer_ref = models.CharField(max_length=64)
    viewed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "consumer_ref"], name="one_view_per_consumer")
        ]
        indexes = [models.Index(fields=["user", "-viewed_at"], name="recent_views_idx")]

    def __str__(self) -> str:
        return f"{self.consumer_ref} viewed by {self.user_id}"


class BulkRefresh(models.Model):
    """A background refresh of many consumers from CDP, with its progress for the page to show."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        CANCELLED = "cancelled", "Cancelled"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    # When the worker last started or finished a chunk: a running job that has not moved for long
    # lost its worker (see bulk_refresh_requeue_stalled).
    progressed_at = models.DateTimeField(null=True, blank=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "bulk refreshes"

    def __str__(self) -> str:
        return f"bulk refresh {self.pk} ({self.done}/{self.total})"

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100

    @property
    def is_over(self) -> bool:
        return self.status in (self.Status.FINISHED, self.Status.CANCELLED)


class BulkRefreshItem(models.Model):
    """One consumer of a bulk refresh and what became of it."""

    class Result(models.TextChoices):
        WAITING = "waiting", "Waiting"
        REFRESHED = "refreshed", "Refreshed"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped (cancelled)"

    job = models.ForeignKey(BulkRefresh, on_delete=models.CASCADE, related_name="items")
    consumer_ref = models.CharField(max_length=64)
    result = models.CharField(max_length=16, choices=Result, default=Result.WAITING)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.consumer_ref}: {self.result}"


class NotificationQuerySet(models.QuerySet):
    def unread(self) -> Self:
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """Something the back office tells one person on the next page they open.

    A queued edit that finally landed or failed, an approval waiting: whatever happened while
    the person was elsewhere. Shown once as a message (`shown_at`), counted in the navigation
    bar's badge until read (`read_at`). Written by `consumers.notifications.notification_create`.
    """

    class Level(models.TextChoices):
        INFO = "info", "Information"
        SUCCESS = "success", "Done"
        WARNING = "warning", "Needs a look"
        ERROR = "error", "Failed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    created_at = models.DateTimeField(default=timezone.now)
    level = models.CharField(max_length=16, choices=Level, default=Level.INFO)
    # Plain text: the message shown; never a secret (it is kept until the person reads it).
    message = models.TextField()
    # Where to look (a page of this site), or "".
    url = models.CharField(max_length=500, blank=True)
    # A short label grouping notifications ("push", "approval"), for filtering and tests.
    kind = models.CharField(max_length=32, blank=True)
    shown_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["user", "-created_at"],
                condition=models.Q(read_at__isnull=True),
                name="notification_unread_idx",
            )
        ]

    def __str__(self) -> str:
        return f"notification {self.pk} for {self.user_id} ({self.level})"


class ReasonTemplate(models.Model):
    """A common reason for a change, kept by administrators; the edit form's reason offers them."""

    text = models.CharField(max_length=200, unique=True)
    position = models.PositiveSmallIntegerField(
        default=0, help_text="Reasons are offered in this order (lowest first), then by text."
    )
    active = models.BooleanField(default=True, help_text="Untick to stop offering it.")

    class Meta:
        ordering = ["position", "text"]

    def __str__(self) -> str:
        return self.text
