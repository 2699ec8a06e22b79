"""Tasks workers say they are alive, so /readyz can tell that every queue is being served.

`python manage.py tasks_worker <queue>` runs the configured backend's worker and, beside it, a
thread that stamps a row per queue every HEARTBEAT_SECONDS. The rows are in the database, the one
store every process shares whatever the backends (the cache may be each process's own memory).
"""

import contextlib
import logging
import os
import socket
import threading
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from core.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0
# Rows of workers gone this long are deleted by the next heartbeat.
FORGET_AFTER = timedelta(days=1)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_heartbeat(*, queues: list[str], worker: str) -> None:
    """Record that `worker` is alive and serving `queues` now."""
    now = timezone.now()
    for queue in queues:
        WorkerHeartbeat.objects.update_or_create(
            queue=queue, worker=worker, defaults={"seen_at": now}
        )
    WorkerHeartbeat.objects.filter(seen_at__lt=now - FORGET_AFTER).delete()


def worker_forget(*, worker: str) -> None:
    """Remove a worker that stopped cleanly, so it no longer counts as serving its queues."""
    WorkerHeartbeat.objects.filter(worker=worker).delete()


def queues_unserved() -> list[str]:
    """Return the queues of TASKS_QUEUES that no worker has served lately."""
    since = timezone.now() - timedelta(seconds=settings.TASKS_WORKER_SEEN_SECONDS)
    served = set(WorkerHeartbeat.objects.filter(seen_at__gte=since).values_list("queue", flat=True))
    return [queue for queue in settings.TASKS_QUEUES if queue not in served]


class Heartbeat(threading.Thread):
    """Stamp the worker's rows every HEARTBEAT_SECONDS until stopped, on its own connection."""

    def __init__(self, *, queues: list[str], worker: str) -> None:
        super().__init__(name="worker-heartbeat", daemon=True)
        self.queues, self.worker = queues, worker
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.is_set():
                try:
                    close_old_connections()
                    worker_heartbeat(queues=self.queues, worker=self.worker)
                except DatabaseError:
                    # The database is down: the worker cannot work either; /readyz will say so.
                    logger.warning("The worker could not record its heartbeat.", exc_info=True)
                self.stopped.wait(HEARTBEAT_SECONDS)
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)
        with contextlib.suppress(DatabaseError):  # a dead database: the row ages out
            worker_forget(worker=self.worker)
