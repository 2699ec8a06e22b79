"""Background work, run by the tasks worker (`python manage.py db_worker`)."""

from django.tasks import task

from consumers import bulk, pushes
from consumers.models import Push
from core.logging import bind_request_id


@task()
def deliver_push(push_id: int) -> str:
    """Try a queued edit again and return what became of it."""
    # The worker's log lines and CDP calls carry the id of the request that made the edit.
    request_id = Push.objects.filter(pk=push_id).values_list("request_id", flat=True).first()
    with bind_request_id(request_id):
        result = pushes.push_deliver(push_id=push_id)
    return result.outcome if result else "no longer queued"


@task()
def run_bulk_refresh(job_id: int) -> str:
    """Refresh the consumers of a bulk refresh and return how it ended."""
    job = bulk.bulk_refresh_run(job_id=job_id)
    return f"{job.status}: {job.done} of {job.total}, {job.failed} failed" if job else "not run"
