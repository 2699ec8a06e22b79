"""The approvals app's answer to consumers' edit gate (consumers.gates): the policy decides."""

from datetime import datetime

from django.contrib.auth.models import User
from django.urls import reverse

from approvals import services
from approvals.models import ApprovalRequest
from audit.services import RequestMeta
from consumers import records
from consumers.gates import HeldChange, HeldEdit
from consumers.models import OrderConsumer


def held_edit(request: ApprovalRequest, *, viewer: User) -> HeldEdit:
    """Describe a request as the consumer's pages list it."""
    return HeldEdit(
        pk=request.pk,
        url=reverse("approvals:detail", kwargs={"pk": request.pk}),
        requested_by=request.requested_by.get_username()
        if request.requested_by
        else "(deleted user)",
        created_at=request.created_at,
        expires_at=request.expires_at,
        reason=request.reason,
        changes=[
            HeldChange(
                label=records.label(name),
                old=records.display_text(old),
                new=records.display_text(new),
            )
            for name, (old, new) in request.changes.items()
        ],
        withdraw_url=reverse("approvals:withdraw", kwargs={"pk": request.pk})
        if request.asked_by(viewer) and request.status == ApprovalRequest.Status.WAITING
        else "",
    )


class ApprovalGate:
    """Hold the changes the approval policy covers; registered in ApprovalsConfig.ready()."""

    def notices(self, *, user: User) -> list[str]:
        return services.policy_notices(user=user)

    def held_fields(self, *, user: User, changes: dict[str, tuple]) -> dict[str, str]:
        policy = services.approval_policy_get()
        return services.held_fields(policy=policy, user=user, changes=changes)

    def hold(
        self,
        *,
        consumer: OrderConsumer,
        changes: dict[str, tuple],
        base_values: dict,
        base_modified_at: datetime | None,
        held: dict[str, str],
        user: User,
        meta: RequestMeta,
        reason: str,
    ) -> HeldEdit:
        request = services.approval_submit(
            consumer=consumer,
            changes=changes,
            base_values=base_values,
            base_modified_at=base_modified_at,
            held=held,
            user=user,
            meta=meta,
            reason=reason,
        )
        return held_edit(request, viewer=user)

    def waiting(self, *, ref: str, user: User) -> list[HeldEdit]:
        return [
            held_edit(request, viewer=user) for request in services.approvals_of_consumer(ref=ref)
        ]
