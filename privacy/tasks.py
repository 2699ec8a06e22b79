"""Background work of the privacy app, run by the workers of the `bulk` queue."""

from django.tasks import task

from consumers.tasks import BULK_QUEUE
from core.logging import bind_request_id


# A correction of many records holds its worker like a bulk refresh does.
@task(queue_name=BULK_QUEUE)
def rectification_run_task(job_id: int, correlation_id: str) -> str:
    """Apply a correction to the records chosen and return how it ended."""
    # cycle-breaker: rectify queues this task, so it imports rectify only when it runs.
    from privacy.rectify import rectification_run

    with bind_request_id(correlation_id):
        job = rectification_run(job_id=job_id)
    return f"{job.status}: {job.done} of {job.total}, {job.failed} failed" if job else "not run"
