"""Background work of approvals, run by the workers of the `pushes` queue (`tasks_worker pushes`).

An expiry is a few queries, and an agent waits on its outcome like on a queued edit.
"""

from django.tasks import task

from consumers.tasks import PUSHES_QUEUE


@task(queue_name=PUSHES_QUEUE)
def approval_expire_task(request_id: int) -> str:
    """Close an approval request at its expiry if nobody decided on it; say what became of it."""
    # cycle-breaker: services queue this task, so it imports them only when it runs.
    from approvals.models import ApprovalRequest
    from approvals.services import approval_expire

    request = ApprovalRequest.objects.filter(pk=request_id).first()
    if request is None:
        return "no such request"
    return "expired" if approval_expire(request=request) else f"not expired: {request.status}"
