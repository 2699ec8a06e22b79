"""What approvals does when consumers announces something (consumers.signals)."""

from typing import Any

from approvals import services
from consumers.models import Push


def tell_the_asker_about_the_push(sender: object, *, push: Push, **kwargs: Any) -> None:
    """The queue settled the push of an approved change: tell the agent who asked for it."""
    request = services.approval_of_push(push=push)
    if request is not None:
        services.approval_notify_outcome(request=request, push=push)
