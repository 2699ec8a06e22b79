"""Background work, run by the tasks worker (`python manage.py db_worker`)."""

from django.tasks import task

from backoffice.logging import bind_request_id
from consumers import pushes
from consumers.models import Push


@task()
def deliver_push(push_id: int) -> str:
    """Try a queued edit again and return what became of it."""
    # The worker's log lines and CDP calls carry the id of the request that made the edit.
    request_id = Push.objects.filter(pk=push_id).values_list("request_id", flat=True).first()
    with bind_request_id(request_id):
        result = pushes.push_deliver(push_id=push_id)
    return result.outcome if result else "no longer queued"
