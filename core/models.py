"""The one table of core: which tasks workers are alive, for /readyz (core/workers.py)."""

from django.db import models


class WorkerHeartbeat(models.Model):
    """A tasks worker said it was alive, serving a queue, at `seen_at`."""

    queue = models.CharField(max_length=100)
    worker = models.CharField(max_length=200, help_text="host and process id")
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["queue", "worker"], name="core_heartbeat_queue_worker")
        ]

    def __str__(self) -> str:
        return f"{self.worker} on {self.queue} at {self.seen_at:%Y-%m-%d %H:%M:%S}"
