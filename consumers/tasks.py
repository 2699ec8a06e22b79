"""Background work, run by the tasks workers (`python manage.py tasks_worker pushes` / `bulk`).

Each task is named after the service it runs (`push_deliver` → `push_deliver_task`). The services
import their tasks to queue them (through core.tasks.task_enqueue); a task imports its service only
when it runs. Two queues with their own workers: `pushes` for agents' queued edits, where latency
matters, and `bulk` for refreshes, which hold a worker for minutes.
"""

from django.tasks import task

from consumers.models import Push
from core.logging import bind_request_id

PUSHES_QUEUE, BULK_QUEUE = "pushes", "bulk"


@task(queue_name=PUSHES_QUEUE)
def push_deliver_task(push_id: int) -> str:
    """Try a queued edit again and return what became of it."""
    # cycle-breaker: pushes queues this task, so it imports pushes only when it runs.
    from consumers.pushes import push_deliver

    # The worker's log lines and CDP calls carry the id of the request that made the edit.
    request_id = Push.objects.filter(pk=push_id).values_list("request_id", flat=True).first()
    with bind_request_id(request_id):
        result = push_deliver(push_id=push_id)
    return result.outcome if result else "no longer queued"


@task(queue_name=BULK_QUEUE)
def bulk_refresh_run_task(job_id: int) -> str:
    """Refresh the consumers of a bulk refresh and return how it ended."""
    # cycle-breaker: bulk queues this task, so it imports bulk only when it runs.
    from consumers.bulk import bulk_refresh_run

    job = bulk_refresh_run(job_id=job_id)
    return f"{job.status}: {job.done} of {job.total}, {job.failed} failed" if job else "not run"


# The tasks' names before they were named after their services. django-tasks-db keeps a queued
# task as a row naming its function's import path (DBTaskResult.task_path), and the worker imports
# that path: rows queued before the upgrade say consumers.tasks.deliver_push or
# consumers.tasks.run_bulk_refresh, so those names stay until no such row is left (see
# docs/operations.md).
deliver_push = push_deliver_task
run_bulk_refresh = bulk_refresh_run_task
