"""Queue a django.tasks task the way the configured backend needs, naming no backend.

A backend that keeps tasks in the database (TASKS_ENQUEUE_ON_COMMIT off) writes the task in the
caller's transaction, so it commits or rolls back together with the row it is about. One that
keeps them elsewhere (Redis) would let a worker take the task before that row is committed, and
see nothing to do: it is queued once the transaction commits instead (and not at all on a
rollback). Should the process die between the commit and the queueing, the row is still there
for `requeue_pushes`, which is why every task here works from a row that is the source of truth.
"""

import math
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.tasks import Task
from django.utils import timezone


def _due_time(run_after: datetime | None) -> datetime | None:
    """None for a task due now (no scheduler needed); else a time the backend can keep."""
    if run_after is None or run_after <= timezone.now():
        return None
    resolution = settings.TASKS_SCHEDULE_RESOLUTION
    if not resolution:
        return run_after
    # A backend that schedules in whole seconds would run the task up to a second early, when it
    # finds its push not yet due and does nothing: round up instead.
    stamp = math.ceil(run_after.timestamp() / resolution) * resolution
    return datetime.fromtimestamp(stamp, tz=run_after.tzinfo)


def task_enqueue(task: Task[Any, Any], *args: Any, run_after: datetime | None = None) -> None:
    """Queue `task(*args)`, now or to run after `run_after`, with the caller's transaction."""

    def enqueue() -> None:
        due = _due_time(run_after)
        (task.using(run_after=due) if due is not None else task).enqueue(*args)

    if settings.TASKS_ENQUEUE_ON_COMMIT:
        # robust: a queue that cannot be reached (Redis restarting) must not fail the request
        # whose row is committed already; the error is logged and requeue_pushes queues it.
        transaction.on_commit(enqueue, robust=True)
    else:
        enqueue()
