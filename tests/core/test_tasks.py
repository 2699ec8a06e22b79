"""Tasks are queued with the transaction that made their row: in it, or once it has committed."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from consumers.tasks import push_deliver_task
from core import tasks
from tests.conftest import queued_tasks

PUSH_TASK = "consumers.tasks.push_deliver_task"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("on_commit", [True, False], ids=["after-commit", "in-transaction"])
def test_a_task_queued_in_a_transaction_that_rolls_back_is_not_queued(settings, on_commit):
    settings.TASKS_ENQUEUE_ON_COMMIT = on_commit
    if not on_commit and settings.TASKS_BACKEND != "database":
        pytest.skip("only the database backend queues inside the transaction")

    def save_that_fails():
        with transaction.atomic():
            tasks.task_enqueue(push_deliver_task, 1)
            raise RuntimeError("the save failed")

    with pytest.raises(RuntimeError):
        save_that_fails()

    assert queued_tasks() == []


@pytest.mark.django_db(transaction=True)
def test_after_commit_a_task_waits_for_the_commit(settings):
    settings.TASKS_ENQUEUE_ON_COMMIT = True

    with transaction.atomic():
        tasks.task_enqueue(push_deliver_task, 1)
        assert queued_tasks() == []

    assert queued_tasks() == [PUSH_TASK]


def test_a_task_due_now_or_earlier_needs_no_scheduler(settings):
    assert tasks._due_time(None) is None
    assert tasks._due_time(timezone.now() - timedelta(seconds=1)) is None


def test_a_due_time_is_rounded_up_to_what_the_backend_keeps(settings):
    later = datetime(2030, 1, 1, 12, 0, 0, 250_000, tzinfo=UTC)

    settings.TASKS_SCHEDULE_RESOLUTION = 0.0
    assert tasks._due_time(later) == later
    settings.TASKS_SCHEDULE_RESOLUTION = 1.0
    assert tasks._due_time(later) == datetime(2030, 1, 1, 12, 0, 1, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_a_queue_that_cannot_be_reached_after_the_commit_fails_nothing(settings, monkeypatch):
    settings.TASKS_ENQUEUE_ON_COMMIT = True

    def unreachable(*args, **kwargs):
        raise ConnectionError("Redis is restarting")

    monkeypatch.setattr(type(push_deliver_task), "enqueue", unreachable)

    with transaction.atomic():
        tasks.task_enqueue(push_deliver_task, 1)  # the row it is about commits all the same
