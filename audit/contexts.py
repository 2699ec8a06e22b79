"""What other apps add to an audit entry's page, as they say from their `AppConfig.ready()`.

The audit app, the bottom layer, imports no app of ours; an app that acts on audited changes
(consumers reverts them) gives the entry page what it shows about that, e.g. where to revert the
change or why it cannot be:

    register_entry_context(revert_offer)  # revert_offer(entry) -> {"revert_url": ..., ...}
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for the annotations: the apps register before models may be imported
    from audit.models import AuditEntry

EntryContext = Callable[["AuditEntry"], dict[str, Any]]

# In the order the apps registered them; a later one's keys win.
_ENTRY_CONTEXTS: list[EntryContext] = []


def register_entry_context(provider: EntryContext) -> None:
    """Have `provider(entry)` add to the context of every audit entry's page."""
    if provider not in _ENTRY_CONTEXTS:
        _ENTRY_CONTEXTS.append(provider)


def entry_context(entry: "AuditEntry") -> dict[str, Any]:
    """Return what the registered apps add to the page of `entry`."""
    context: dict[str, Any] = {}
    for provider in _ENTRY_CONTEXTS:
        context.update(provider(entry))
    return context
