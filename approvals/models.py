"""Four-eyes approval: the administrators' policy and the changes waiting for a second person."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import models
from django.utils import timezone

from consumers import records

# The fields whose changes wait for approval unless the administrators say otherwise: re-linking
# a consumer to another guest moves a traveller between customer profiles.
DEFAULT_FIELDS = ["guest_ref", "order_item_refs"]
DEFAULT_EXPIRY_HOURS = 24
# Who may approve or reject (accounts/roles.py gives it to supervisors; administrators hold all).
APPROVE_PERMISSION = "approvals.approve_approvalrequest"


def _default_fields() -> list[str]:
    return list(DEFAULT_FIELDS)


class ApprovalPolicy(models.Model):
    """Which changes need a second person's approval; one row, edited in the admin."""

    fields = models.JSONField(
        "fields that need approval",
        default=_default_fields,
        blank=True,
        help_text="A change to any of these waits for a supervisor's approval.",
    )
    group = models.ForeignKey(
        Group,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="every change by members of",
        help_text="Optional: every change by a member of this group waits for approval, e.g. "
        "agents still in training.",
    )
    expiry_hours = models.PositiveIntegerField(
        "approval expiry (hours)",
        default=DEFAULT_EXPIRY_HOURS,
        help_text="A request nobody decided on within this many hours is closed as expired.",
    )
    supervisors_exempt = models.BooleanField(
        "supervisors and administrators are exempt",
        default=False,
        help_text="Off: a supervisor's own change to these fields needs another supervisor too.",
    )
    # Counts the policy's changes, so a request can say the policy changed since it was made.
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    class Meta:
        verbose_name = "approval policy"
        verbose_name_plural = "approval policy"

    def __str__(self) -> str:
        return "Approval policy"

    def snapshot(self) -> dict[str, Any]:
        """Return the policy as a request keeps it: what it was made under, whatever comes later."""
        return {
            "version": self.version,
            "fields": [name for name in records.NAMES if name in self.fields],
            "group": self.group.name if self.group_id and self.group else "",
            "expiry_hours": self.expiry_hours,
            "supervisors_exempt": self.supervisors_exempt,
        }


def describe_policy(snapshot: dict[str, Any]) -> str:
    """Say in one sentence what a policy (as a snapshot) holds for approval."""
    parts = []
    if snapshot.get("fields"):
        labels = [records.label(name) for name in snapshot["fields"]]
        parts.append(f"changes to {', '.join(labels)}")
    if snapshot.get("group"):
        parts.append(f"every change by members of {snapshot['group']}")
    if not parts:
        return "Nothing needs approval."
    exempt = (
        "supervisors and administrators are exempt"
        if snapshot.get("supervisors_exempt")
        else "a supervisor's own change needs another supervisor"
    )
    sentence = " and ".join(parts)
    return (
        f"{sentence[0].upper()}{sentence[1:]} need a supervisor's approval ({exempt}); a request "
        f"expires after {snapshot.get('expiry_hours', DEFAULT_EXPIRY_HOURS)} hours."
    )


class ApprovalRequestQuerySet(models.QuerySet):
    def waiting(self) -> "ApprovalRequestQuerySet":
        return self.filter(status=ApprovalRequest.Status.WAITING)


class ApprovalRequest(models.Model):
    """Changes to one consumer an agent asked for, waiting for (or decided by) a second person.

    It keeps the version of the consumer the agent saw (CDP's modifiedAt and the editable fields),
    so that the approval's push refuses to overwrite a newer version, and the policy it was made
    under, which a later change of the policy does not rewrite.
    """

    class Status(models.TextChoices):
        WAITING = "waiting", "Awaiting approval"
        # Claimed by an approver whose push is under way: nobody else may decide it meanwhile.
        APPROVING = "approving", "Being approved"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"
        EXPIRED = "expired", "Expired"

    OPEN = (Status.WAITING, Status.APPROVING)

    consumer_ref = models.CharField(max_length=64, db_index=True)
    order_ref = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField("record", max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    reason = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    expires_at = models.DateTimeField()
    # The version the agent saw: every editable field, and CDP's modifiedAt.
    base_values = models.JSONField(default=dict)
    base_modified_at = models.DateTimeField(null=True, blank=True)
    # {field: [old, new]} for the changes waiting, and {field: why} the policy held each.
    changes = models.JSONField(default=dict)
    held_because = models.JSONField(default=dict)
    # The policy as it was when the request was made (ApprovalPolicy.snapshot).
    policy = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status, default=Status.WAITING, db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    # The rejection's comment (required), or the approver's note.
    comment = models.TextField(blank=True)
    # The audit entries of its steps and the push that carried an approval to CDP.
    submitted_entry_id = models.BigIntegerField(null=True, blank=True, editable=False)
    decided_entry_id = models.BigIntegerField(null=True, blank=True, editable=False)
    push_id = models.BigIntegerField(null=True, blank=True, editable=False)
    push_entry_id = models.BigIntegerField(null=True, blank=True, editable=False)
    # When the requester saw what became of it (their notification).
    outcome_seen_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApprovalRequestQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        permissions = [("approve_approvalrequest", "Can approve or reject changes")]
        indexes = [
            models.Index(
                fields=["expires_at"],
                condition=models.Q(status="waiting"),
                name="approval_waiting_expiry_idx",
            )
        ]

    def __str__(self) -> str:
        return f"approval request {self.pk} for {self.consumer_ref} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    @property
    def is_expired(self) -> bool:
        """Past its expiry, whether or not the periodic job has closed it yet."""
        return self.status == self.Status.EXPIRED or (
            self.status == self.Status.WAITING and self.expires_at <= timezone.now()
        )

    @property
    def proposed_values(self) -> dict:
        """Every editable field as the agent wants it: the version they saw with their changes."""
        return {**self.base_values, **{name: new for name, (_, new) in self.changes.items()}}

    @property
    def change_rows(self) -> list[tuple[str, str, str]]:
        """(label, as seen, proposed) per field of the change, as pages show them."""
        return [
            (records.label(name), records.display_text(old), records.display_text(new))
            for name, (old, new) in self.changes.items()
        ]

    @property
    def policy_text(self) -> str:
        return describe_policy(self.policy)

    @property
    def time_to_decision(self) -> timedelta | None:
        return self.decided_at - self.created_at if self.decided_at else None

    def asked_by(self, user: User) -> bool:
        return self.requested_by_id == user.pk
