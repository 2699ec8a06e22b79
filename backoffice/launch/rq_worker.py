"""The RQ worker that TASKS_BACKEND=rq runs (settings.TASKS_WORKER_COMMAND): RQ's own, retuned.

RQ moves a task queued for later onto its queue from a scheduler that one worker per queue runs,
holding a lock that outlives a killed holder by a minute; the other workers try to take it over
only at their maintenance round, every 10 minutes by default. Every 15 seconds here, so a worker
killed with SIGKILL holds back queued edits' next tries for about a minute, not ten.
"""

from typing import Any

from rq.worker import Worker as RQWorker

MAINTENANCE_SECONDS = 15


class Worker(RQWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("maintenance_interval", MAINTENANCE_SECONDS)
        super().__init__(*args, **kwargs)
