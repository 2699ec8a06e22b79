"""An agent's save from the edit form: what goes to CDP now, and what waits for approval.

The gate (consumers.gates, filled by the approvals app) says which changed fields wait. The others
go to CDP at once through `pushes.consumer_push_update`, as any edit; the held ones are submitted
for approval against the version the agent saw, or, when the fields just sent reached CDP, against
the version CDP holds after them (the agent's own change is no conflict for their request).
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from audit.services import RequestMeta
from cdp.errors import CDPError
from consumers import pushes, records
from consumers.gates import HeldEdit, edit_gate
from consumers.models import OrderConsumer
from consumers.pushes import Outcome, PushResult

REASON_REQUIRED = (
    "Say why you make this change: {fields} needs a supervisor's approval, and the approver "
    "reads your reason."
)


@dataclass
class EditResult:
    """What became of a save: the part sent to CDP and the part waiting for approval."""

    # The fields sent to CDP now (UNCHANGED when every change waits for approval).
    sent: PushResult
    held: HeldEdit | None = None
    # {field: why it waits}, for the held part.
    held_reasons: dict[str, str] = field(default_factory=dict)

    @property
    def sent_fields(self) -> list[str]:
        push = self.sent.push
        return list(push.changes) if push is not None else []


def edit_notices(*, user: User) -> list[str]:
    """Say which changes of the user's would wait for approval, for the edit form."""
    gate = edit_gate()
    return gate.notices(user=user) if gate is not None else []


def edits_awaiting_approval(*, ref: str, user: User) -> list[HeldEdit]:
    """Return the consumer's changes waiting for approval, as its pages list them."""
    gate = edit_gate()
    return gate.waiting(ref=ref, user=user) if gate is not None else []


def consumer_edit_save(
    *,
    consumer: OrderConsumer,
    data: dict,
    loaded_values: dict,
    loaded_modified_at: datetime | None,
    user: User,
    meta: RequestMeta,
    reason: str = "",
) -> EditResult:
    """Save the agent's edit: the fields the policy holds wait for approval, the rest go to CDP.

    Raises ValidationError, sending and submitting nothing, when a held change comes without a
    reason or a new link does not resolve. When CDP refuses the fields sent (a failed save), the
    held ones are not submitted either: the form comes back with the whole edit on it.
    """
    changes = records.changes(loaded_values, data)
    gate = edit_gate()
    held = gate.held_fields(user=user, changes=changes) if gate is not None and changes else {}
    if gate is None or not held:
        sent = pushes.consumer_push_update(
            consumer=consumer,
            data=data,
            loaded_values=loaded_values,
            loaded_modified_at=loaded_modified_at,
            user=user,
            meta=meta,
            reason=reason,
        )
        return EditResult(sent=sent)
    held_changes = {name: changes[name] for name in held}
    errors: dict[str, list[str]] = {}
    try:
        # Before anything is sent: a request for a guest CDP does not have helps nobody.
        pushes.push_links_check(order_ref=consumer.order_ref, changes=held_changes)
    except ValidationError as refused:
        errors.update(refused.message_dict)
    except CDPError as error:
        if not error.retryable:
            errors[NON_FIELD_ERRORS] = [f"The links could not be checked. {error}"]
        # Else CDP cannot check them now; the approval's push checks them before it sends.
    if not reason.strip():
        labels = " and ".join(records.label(name) for name in held)
        errors["reason"] = [REASON_REQUIRED.format(fields=labels)]
    if errors:
        raise ValidationError(errors)
    sent_now = {name: new for name, (_, new) in changes.items() if name not in held}
    base_values, base_modified_at = loaded_values, loaded_modified_at
    sent = PushResult(Outcome.UNCHANGED, consumer)
    if sent_now:
        sent = pushes.consumer_push_update(
            consumer=consumer,
            data={**loaded_values, **sent_now},
            loaded_values=loaded_values,
            loaded_modified_at=loaded_modified_at,
            user=user,
            meta=meta,
            reason=reason,
        )
        if sent.outcome == Outcome.FAILED:
            return EditResult(sent=sent, held_reasons=held)
        if sent.outcome == Outcome.SUCCEEDED:
            base_values = sent.consumer.editable_values()
            base_modified_at = sent.consumer.cdp_modified_at
    # The values seen are the base's: after the fields just sent, CDP's record as it answered.
    proposed = {
        name: (base_values.get(name, old), new) for name, (old, new) in held_changes.items()
    }
    held_edit = gate.hold(
        consumer=sent.consumer,
        changes=proposed,
        base_values=base_values,
        base_modified_at=base_modified_at,
        held=held,
        user=user,
        meta=meta,
        reason=reason,
    )
    return EditResult(sent=sent, held=held_edit, held_reasons=held)
