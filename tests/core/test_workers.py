"""`manage.py tasks_worker` runs the configured backend's worker for named queues, and says it is
alive so /readyz knows each queue is served."""

import pytest
from django.core.management import CommandError, call_command

from core.management.commands.tasks_worker import worker_arguments
from core.models import WorkerHeartbeat
from core.workers import queues_unserved, worker_forget, worker_heartbeat


def test_the_worker_command_comes_from_the_settings_with_the_queues_filled_in(settings):
    settings.TASKS_WORKER_COMMAND = ["db_worker", "--queue-name", "{queues}"]
    settings.TASKS_WORKER_BURST = ["--batch"]
    assert worker_arguments(["pushes", "bulk"], burst=True) == [
        "db_worker", "--queue-name", "pushes,bulk", "--batch",
    ]  # fmt: skip

    settings.TASKS_WORKER_COMMAND = ["rqworker", "{queue_args}", "--with-scheduler"]
    assert worker_arguments(["pushes", "bulk"]) == [
        "rqworker",
        "pushes",
        "bulk",
        "--with-scheduler",
    ]


def test_an_unknown_queue_is_refused_naming_the_queues(db):
    with pytest.raises(CommandError, match=r"No queue default; the queues are pushes, bulk\."):
        call_command("tasks_worker", "default")


def test_a_queue_counts_as_served_while_a_worker_beats_and_not_after_it_stopped(db):
    assert queues_unserved() == ["pushes", "bulk"]

    worker_heartbeat(queues=["pushes", "bulk"], worker="host:1")
    worker_heartbeat(queues=["pushes"], worker="host:1")  # a second beat updates the row
    assert queues_unserved() == []
    assert WorkerHeartbeat.objects.count() == 2

    worker_forget(worker="host:1")
    assert queues_unserved() == ["pushes", "bulk"]
