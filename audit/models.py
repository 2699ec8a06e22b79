"""The append-only, hash-chained audit log.

Each entry stores the SHA-256 of its canonical content, which includes the hash of the entry before
it, so changing, deleting, inserting or reordering an entry breaks the chain (`verify_audit`).
Signed checkpoints anchor the chain with a key the database does not hold, so rewriting the whole
chain is detected too.
"""

import hashlib
import json
from datetime import UTC
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

GENESIS_HASH = "0" * 64


class AppendOnlyError(RuntimeError):
    """Raised on any attempt to change or delete an audit record."""


class AppendOnlyQuerySet(models.QuerySet):
    """A queryset that can add and read rows, never update or delete them."""

    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError(f"{self.model.__name__} rows cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{self.model.__name__} rows cannot be deleted.")

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        raise AppendOnlyError(f"{self.model.__name__} rows cannot be changed.")


class AppendOnlyModel(models.Model):
    """A model whose rows, once written, refuse `save()` and `delete()`."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} {self.pk} cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{type(self).__name__} {self.pk} cannot be deleted.")


class AuditEntry(AppendOnlyModel):
    """One audited action: who, when, from where, what (old → new per field) and the outcome.

    Shaped like Django's admin `LogEntry`, with CDP's answer, a reason, and its place in the chain.
    """

    class Action(models.TextChoices):
        EDIT = "edit", "Edit"
        REVERT = "revert", "Revert"
        CREDENTIALS = "credentials", "Credentials change"
        CONNECTION_TEST = "connection_test", "Connection test"
        DISCARD = "discard", "Discarded edit"
        CANCEL = "cancel", "Cancelled queued edit"
        SIGN_IN = "sign_in", "Sign-in"
        SIGN_IN_FAILED = "sign_in_failed", "Failed sign-in"
        SIGN_OUT = "sign_out", "Sign-out"
        PERMISSION_DENIED = "permission_denied", "Permission denied"
        LOCKED_OUT = "locked_out", "Locked out"
        UNLOCKED = "unlocked", "Unlocked sign-in"
        SESSIONS_ENDED = "sessions_ended", "Sessions ended"

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CONFLICT = "conflict", "Conflict"
        PENDING = "pending", "Queued"

    # The entry's place in the hash chain: 1, 2, 3, ... with no gaps.
    sequence = models.PositiveBigIntegerField(unique=True, editable=False)
    action_time = models.DateTimeField("time (UTC)", default=timezone.now, db_index=True)
    # No database constraint and no cascade: deleting a user must not delete or rewrite entries.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    # Kept as it was at the time, so deleting or renaming the user does not rewrite history.
    username = models.CharField(max_length=150)
    ip_address = models.GenericIPAddressField("IP address", null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField("request id", max_length=64, blank=True)
    action = models.CharField(max_length=24, choices=Action)
    consumer_ref = models.CharField("consumer ref", max_length=64, blank=True)
    order_ref = models.CharField("order ref", max_length=64, blank=True)
    object_repr = models.CharField("record", max_length=200, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome)
    cdp_status = models.PositiveSmallIntegerField("CDP status", null=True, blank=True)
    cdp_message = models.TextField("CDP message", blank=True)
    reason = models.TextField(blank=True)
    reverts = models.ForeignKey(
        "self",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="reverted_by",
    )
    # A queued edit's final entry (delivered, failed, conflict, cancelled) names the pending entry
    # it settles, so that the edit is counted once, as what finally happened.
    supersedes = models.OneToOneField(
        "self",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="superseded_by",
    )
    prev_hash = models.CharField("previous entry's hash", max_length=64, editable=False)
    entry_hash = models.CharField("hash", max_length=64, editable=False)

    class Meta:
        ordering = ["-sequence"]
        verbose_name_plural = "audit entries"
        # The supervisors' filters read the newest entries first: each index hands the first
        # page over in order, without sorting, at any size of log.
        indexes = [
            models.Index(fields=["consumer_ref", "-sequence"], name="audit_consumer_seq_idx"),
            models.Index(fields=["order_ref", "-sequence"], name="audit_order_seq_idx"),
            models.Index(fields=["username", "-sequence"], name="audit_username_seq_idx"),
            # The dashboard counts the queued edits still waiting live, over any range.
            models.Index(
                fields=["action_time"],
                condition=models.Q(outcome="pending"),
                name="audit_pending_time_idx",
            ),
        ]
        permissions = [("revert_auditentry", "Can revert an audited change")]

    def __str__(self) -> str:
        record = self.object_repr or self.consumer_ref
        return f"{self.get_action_display()} of {record} by {self.username}"

    def canonical_content(self, changes: list[tuple[str, str, str]]) -> bytes:
        """Return the bytes the hash is taken over: every field, the changes and prev_hash."""
        content = {
            "sequence": self.sequence,
            "action_time": self.action_time.astimezone(UTC).isoformat(),
            "user_id": self.user_id,
            "username": self.username,
            "ip_address": self.ip_address,
            "user_agent": self.user_agent,
            "request_id": self.request_id,
            "action": self.action,
            "consumer_ref": self.consumer_ref,
            "order_ref": self.order_ref,
            "object_repr": self.object_repr,
            "outcome": self.outcome,
            "cdp_status": self.cdp_status,
            "cdp_message": self.cdp_message,
            "reason": self.reason,
            "reverts_id": self.reverts_id,
            "changes": [list(change) for change in changes],
            "prev_hash": self.prev_hash,
        }
        # Only when set, so that entries written before the link existed keep their hashes.
        if self.supersedes_id is not None:
            content["supersedes_id"] = self.supersedes_id
        return json.dumps(content, sort_keys=True, separators=(",", ":")).encode("utf-8")

    def compute_hash(self, changes: list[tuple[str, str, str]]) -> str:
        return hashlib.sha256(self.canonical_content(changes)).hexdigest()

    @property
    def outcome_badge(self) -> str:
        """The Bootstrap badge class for the outcome."""
        return _OUTCOME_BADGES.get(self.outcome, "text-bg-secondary")

    @property
    def is_revertible(self) -> bool:
        return (
            self.action in (self.Action.EDIT, self.Action.REVERT)
            and self.outcome == self.Outcome.SUCCEEDED
            and bool(self.consumer_ref)
        )


_OUTCOME_BADGES: dict[str, str] = {
    AuditEntry.Outcome.SUCCEEDED: "text-bg-success",
    AuditEntry.Outcome.PENDING: "text-bg-warning",
    AuditEntry.Outcome.CONFLICT: "text-bg-warning",
    AuditEntry.Outcome.FAILED: "text-bg-danger",
}


class FieldChange(AppendOnlyModel):
    """One field of an audited action: its value before and the value asked for."""

    entry = models.ForeignKey(AuditEntry, on_delete=models.DO_NOTHING, related_name="changes")
    field = models.CharField(max_length=32, db_index=True)
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.field}: {self.old_value!r} → {self.new_value!r}"


class AuditChainHead(models.Model):
    """The chain's newest sequence and hash: one row, locked by each writer so it never forks."""

    sequence = models.PositiveBigIntegerField(default=0)
    entry_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    def __str__(self) -> str:
        return f"audit chain head at {self.sequence}"


class AuditCheckpoint(AppendOnlyModel):
    """A signed statement that entry `sequence` had hash `entry_hash` at `created_at`."""

    sequence = models.PositiveBigIntegerField()
    entry_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    # HMAC-SHA256 under AUDIT_CHECKPOINT_KEY, which lives in the environment, not the database.
    signature = models.CharField(max_length=64)

    class Meta:
        ordering = ["-sequence", "-id"]

    def __str__(self) -> str:
        return f"checkpoint at entry {self.sequence}"

    def signed_content(self) -> bytes:
        moment = self.created_at.astimezone(UTC).isoformat()
        return f"{self.sequence}:{self.entry_hash}:{moment}".encode()


class RepeatedEvent(models.Model):
    """Repeats of one audited event (action, user name, address) within one window of time.

    Mutable and outside the chain, so repeats cost a counter, not an entry each: the window's
    first event is an ordinary entry, and the repeats after it are appended as one summary entry
    once the window is over (`audit_repeats_flush`). Nothing is lost, only folded.
    """

    action = models.CharField(max_length=24)
    # The user name as typed or signed in; "" counts the names one address tried beyond a limit.
    username = models.CharField(max_length=150, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    # The client's address as text ("" when unknown), so that it can be part of the unique key.
    address = models.CharField(max_length=45, blank=True)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField(db_index=True)
    # The entry of the window's first event, which the summary follows.
    first_sequence = models.PositiveBigIntegerField(default=0)
    repeats = models.PositiveIntegerField(default=0)
    first_repeat_at = models.DateTimeField(null=True, blank=True)
    last_repeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["action", "username", "address", "window_start"],
                name="one_count_per_event_and_window",
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.username or '(others)'} from {self.address}: {self.repeats}"
