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
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.functional import cached_property

from audit import personal

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
        # An agent's revert of their own save within minutes of it (consumers.pushes.consumer_undo).
        UNDO = "undo", "Undo"
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
        # Four-eyes approval (the approvals app): each step of a request is an entry of its own.
        APPROVAL_SUBMITTED = "approval_submitted", "Submitted for approval"
        APPROVAL_WITHDRAWN = "approval_withdrawn", "Approval request withdrawn"
        APPROVAL_APPROVED = "approval_approved", "Approved"
        APPROVAL_REJECTED = "approval_rejected", "Rejected"
        APPROVAL_EXPIRED = "approval_expired", "Approval request expired"
        APPROVAL_POLICY = "approval_policy", "Approval policy change"
        ERASURE = "erasure", "Erasure of a person"
        MFA_ADDED = "mfa_added", "MFA method added"
        MFA_REMOVED = "mfa_removed", "MFA method removed"
        MFA_FAILED = "mfa_failed", "Failed MFA check"
        RECOVERY_CODE_USED = "recovery_code_used", "Recovery code used"

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
    # At most 200 characters of text; longer once encrypted (see `subject`).
    object_repr = models.CharField("record", max_length=1200, blank=True)
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
    # The person the entry is about (their guest ref, or the consumer ref when there is no guest):
    # when set, `object_repr`, `reason` and the changes' values are encrypted under that person's
    # key (audit.personal), which erasing the person destroys. "" for entries about no one.
    subject = models.CharField(max_length=64, blank=True, editable=False)
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
            # An erasure counts and shreds a person's entries.
            models.Index(
                fields=["subject"], condition=~models.Q(subject=""), name="audit_subject_idx"
            ),
            # The dashboard counts the queued edits still waiting live, over any range.
            models.Index(
                fields=["action_time"],
                condition=models.Q(outcome="pending"),
                name="audit_pending_time_idx",
            ),
        ]
        permissions = [("revert_auditentry", "Can revert an audited change")]

    def __str__(self) -> str:
        # An entry about a person names the record by its ref: its name is encrypted.
        record = self.consumer_ref if self.subject else (self.object_repr or self.consumer_ref)
        return f"{self.get_action_display()} of {record} by {self.username}"

    def canonical_content(self, changes: list[tuple[str, str, str]]) -> bytes:
        """Return the bytes the hash is taken over: every field, the changes and prev_hash."""
        return canonical_content(self, changes)

    def compute_hash(self, changes: list[tuple[str, str, str]]) -> str:
        return hashlib.sha256(self.canonical_content(changes)).hexdigest()

    @cached_property
    def record_text(self) -> str:
        """The record's name as it was, readable (or "erased")."""
        return reveal(self.subject, self.object_repr)

    @cached_property
    def reason_text(self) -> str:
        return reveal(self.subject, self.reason)

    @property
    def is_erased(self) -> bool:
        return bool(self.subject) and AuditSubjectKey.objects.is_shredded(self.subject)

    @property
    def outcome_badge(self) -> str:
        """The Bootstrap badge class for the outcome."""
        return _OUTCOME_BADGES.get(self.outcome, "text-bg-secondary")

    @property
    def is_revertible(self) -> bool:
        return (
            self.action in SAVE_ACTIONS
            and self.outcome == self.Outcome.SUCCEEDED
            and bool(self.consumer_ref)
        )


# The actions that are saves to CDP: an edit, a supervisor's revert and an agent's undo. The
# dashboard counts them, the audit log's "saves" filter lists them, and any of them may be reverted.
SAVE_ACTIONS = (AuditEntry.Action.EDIT, AuditEntry.Action.REVERT, AuditEntry.Action.UNDO)


def canonical_content(entry: Any, changes: list[tuple[str, str, str]]) -> bytes:
    """Return the bytes an entry's hash is taken over: every field, the changes and prev_hash.

    A function of the entry's attributes, so that a data migration's historical model hashes
    exactly as the model does. Fields added later count only when set, so that the entries
    written before them keep their hashes.
    """
    content = {
        "sequence": entry.sequence,
        "action_time": entry.action_time.astimezone(UTC).isoformat(),
        "user_id": entry.user_id,
        "username": entry.username,
        "ip_address": entry.ip_address,
        "user_agent": entry.user_agent,
        "request_id": entry.request_id,
        "action": entry.action,
        "consumer_ref": entry.consumer_ref,
        "order_ref": entry.order_ref,
        "object_repr": entry.object_repr,
        "outcome": entry.outcome,
        "cdp_status": entry.cdp_status,
        "cdp_message": entry.cdp_message,
        "reason": entry.reason,
        "reverts_id": entry.reverts_id,
        "changes": [list(change) for change in changes],
        "prev_hash": entry.prev_hash,
    }
    if entry.supersedes_id is not None:
        content["supersedes_id"] = entry.supersedes_id
    if entry.subject:
        content["subject"] = entry.subject
    return json.dumps(content, sort_keys=True, separators=(",", ":")).encode("utf-8")


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
        return f"{self.field}: {self.old_text!r} → {self.new_text!r}"

    # Readable values (or "erased"); `audit.services.audit_entries_reveal` fills them for a whole
    # page at once, else each costs a look-up of the person's key.
    @cached_property
    def old_text(self) -> str:
        return reveal(self.entry.subject, self.old_value)

    @cached_property
    def new_text(self) -> str:
        return reveal(self.entry.subject, self.new_value)


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
    # What the checkpoint records besides the hash, e.g. a migration that re-hashed the chain.
    note = models.TextField(blank=True)
    # Set on the checkpoint signed after a migration re-hashed the entries from this sequence on
    # (audit.0008 encrypting personal values): checkpoints signed before it, at or after that
    # entry, recorded the old hashes, and only their signatures are checked (see verify).
    rechained_from = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-sequence", "-id"]

    def __str__(self) -> str:
        return f"checkpoint at entry {self.sequence}"

    def signed_content(self) -> bytes:
        return checkpoint_content(self)


def checkpoint_content(checkpoint: Any) -> bytes:
    """The bytes a checkpoint's signature covers; the note and the re-hash mark only when set."""
    moment = checkpoint.created_at.astimezone(UTC).isoformat()
    content = f"{checkpoint.sequence}:{checkpoint.entry_hash}:{moment}"
    if checkpoint.note or checkpoint.rechained_from is not None:
        content += f":{checkpoint.rechained_from or ''}:{checkpoint.note}"
    return content.encode()


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


# --- the per-person keys ---------------------------------------------------------------------


class SubjectKeyQuerySet(models.QuerySet):
    def data_key(self, subject: str) -> bytes | None:
        """Return the subject's data key, made on first use; None once it was shredded."""
        row = AuditSubjectKey.objects.filter(subject=subject).first()
        if row is None:
            try:
                with transaction.atomic():
                    row = AuditSubjectKey.objects.create(
                        subject=subject, wrapped_key=personal.wrap(personal.new_data_key(), subject)
                    )
            except IntegrityError:  # another writer made it a moment ago
                row = AuditSubjectKey.objects.get(subject=subject)
        if row.shredded_at is not None:
            return None
        key = personal.unwrap(row.wrapped_key, subject)
        if key is None:
            raise personal.AuditKeyMissing(
                f"The key of audit subject {subject} is wrapped under key "
                f"{personal.wrapped_kek_id(row.wrapped_key)}, which neither AUDIT_KEY nor "
                "FIELD_ENCRYPTION_KEY holds: put that key back at the end of AUDIT_KEY."
            )
        return key

    def ring(self, subjects: set[str]) -> "KeyRing":
        """Return the data keys of these subjects, read in one query, for revealing many values."""
        ring = KeyRing()
        wanted = {subject for subject in subjects if subject}
        for subject, wrapped, shredded_at in self.filter(subject__in=wanted).values_list(
            "subject", "wrapped_key", "shredded_at"
        ):
            if shredded_at is not None:
                ring.shredded.add(subject)
            else:
                ring.keys[subject] = personal.unwrap(wrapped, subject)
        return ring

    def is_shredded(self, subject: str) -> bool:
        return self.filter(subject=subject, shredded_at__isnull=False).exists()

    def shred(self, subjects: set[str]) -> int:
        """Destroy the subjects' keys (their values can never be read again); return how many.

        A subject without a key yet gets a shredded row, so that no key is ever made for it.
        """
        now = timezone.now()
        wanted = {subject for subject in subjects if subject}
        shredded = self.filter(subject__in=wanted, shredded_at__isnull=True).update(
            wrapped_key="", shredded_at=now
        )
        known = set(self.filter(subject__in=wanted).values_list("subject", flat=True))
        AuditSubjectKey.objects.bulk_create(
            [AuditSubjectKey(subject=s, wrapped_key="", shredded_at=now) for s in wanted - known],
            ignore_conflicts=True,
        )
        return shredded


class AuditSubjectKey(models.Model):
    """One person's data key, wrapped under the KEK (AUDIT_KEY), or the fact it was shredded.

    Deliberately outside the hash chain and not append-only: shredding must destroy the key.
    Losing this table loses only the personal values of entries; every other field of every
    entry stays readable, and the chain still verifies.
    """

    subject = models.CharField(max_length=64, unique=True)
    # "kw1$<KEK id>$<base64(nonce + wrapped key + tag)>"; "" once shredded.
    wrapped_key = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    shredded_at = models.DateTimeField(null=True, blank=True)

    objects = SubjectKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "audit subject key"

    def __str__(self) -> str:
        return f"key of {self.subject}" + (" (shredded)" if self.shredded_at else "")


class AuditSearchWord(models.Model):
    """A keyed hash of one word of an entry's encrypted values, so that search still finds it.

    Outside the chain, and deleted with the person's key when they are erased.
    """

    entry = models.ForeignKey(
        AuditEntry, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    subject = models.CharField(max_length=64, db_index=True)
    digest = models.CharField(max_length=64, db_index=True)

    def __str__(self) -> str:
        return f"a word of entry {self.entry_id}"


class KeyRing:
    """Data keys read for one page or export: reveal many values with one query."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes | None] = {}
        self.shredded: set[str] = set()

    def reveal(self, subject: str, value: str) -> str:
        if not subject or not personal.is_sealed(value):
            return value
        if subject in self.shredded or value == personal.ERASED_VALUE:
            return personal.ERASED_TEXT
        key = self.keys.get(subject)
        opened = personal.open_sealed(key, subject, value) if key else None
        return personal.UNREADABLE_TEXT if opened is None else opened


def reveal(subject: str, value: str) -> str:
    """Return a stored audit value readable: as is, decrypted, "erased" or "unreadable: …"."""
    if not subject or not personal.is_sealed(value):
        return value
    return AuditSubjectKey.objects.ring({subject}).reveal(subject, value)
