"""What may hold part of an agent's edit back from CDP until someone approves it.

The approvals app decides (its policy: which fields, whose changes), but it sits above consumers,
which may not import it. So consumers asks through this registry, which approvals fills from its
`AppConfig.ready()`:

    register_edit_gate(ApprovalGate())

A registry rather than a signal: the save needs exactly one typed answer (which fields wait, and
why) before anything is sent, and the pages need what waits; a signal's receivers answer into a
list of (receiver, anything) that nothing checks, and are meant for "tell whoever listens". With
no gate registered every edit goes straight to CDP, as before approvals existed.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # only for the annotations: the gate registers before models may be imported
    from django.contrib.auth.models import User

    from audit.services import RequestMeta
    from consumers.models import OrderConsumer


@dataclass(frozen=True)
class HeldChange:
    """One field of a held edit: its label, the value the agent saw and the one proposed."""

    label: str
    old: str
    new: str


@dataclass(frozen=True)
class HeldEdit:
    """Changes waiting for approval, as the consumer's pages show them."""

    pk: int
    url: str
    requested_by: str
    created_at: datetime
    expires_at: datetime
    reason: str
    changes: list[HeldChange] = field(default_factory=list)
    # Where the viewer withdraws it ("" when they may not: only who asked may).
    withdraw_url: str = ""


class EditGate(Protocol):
    """The policy that holds edits for approval (approvals.gate.ApprovalGate)."""

    def notices(self, *, user: "User") -> list[str]:
        """Say, for the edit form, which of the user's changes would wait for approval."""
        ...

    def held_fields(self, *, user: "User", changes: dict[str, tuple]) -> dict[str, str]:
        """Return {field: why it waits} for the changes the policy holds for approval."""
        ...

    def hold(
        self,
        *,
        consumer: "OrderConsumer",
        changes: dict[str, tuple],
        base_values: dict,
        base_modified_at: datetime | None,
        held: dict[str, str],
        user: "User",
        meta: "RequestMeta",
        reason: str,
    ) -> HeldEdit:
        """Submit the held changes for approval against the version the agent saw."""
        ...

    def waiting(self, *, ref: str, user: "User") -> list[HeldEdit]:
        """Return the consumer's changes still waiting for approval, oldest first."""
        ...


_GATES: list[EditGate] = []


def register_edit_gate(gate: EditGate) -> None:
    """Have `gate` decide which edits wait for approval (one gate: a later one replaces it)."""
    _GATES[:] = [gate]


def edit_gate() -> EditGate | None:
    """Return the registered gate, or None when edits are never held."""
    return _GATES[0] if _GATES else None
