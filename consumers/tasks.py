"""Background work, run by the tasks worker (`python manage.py db_worker`)."""

from django.tasks import task

from consumers import pushes


@task()
def deliver_push(push_id: int) -> str:
    """Try a queued edit again and return what became of it."""
    result = pushes.push_deliver(push_id=push_id)
    return result.outcome if result else "no longer queued"
