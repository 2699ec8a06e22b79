"""The worker's tasks: named after the services they run, and still found by their old names."""

import pytest
from django.utils.module_loading import import_string

from audit.services import RequestMeta
from cdp_sandbox.server import Fault
from consumers import bulk, pushes, services
from consumers.models import BulkRefresh, Push
from consumers.tasks import bulk_refresh_run_task, push_deliver_task
from tests.conftest import CONSUMER_REF, cdp_path, database_tasks_only, queued_tasks, run_worker

# Run for each API version CDP speaks (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("api_version")

CONSUMER_PATH = cdp_path("orderConsumers", CONSUMER_REF)


def test_the_services_queue_the_tasks_named_after_them(agent, settings):
    settings.PUSH_RETRY_DELAY = settings.PUSH_RETRY_DELAY_MAX = 3600

    bulk.bulk_refresh_start(user=agent, refs=[CONSUMER_REF])

    assert queued_tasks() == ["consumers.tasks.bulk_refresh_run_task"]


def test_edits_and_bulk_refreshes_have_queues_of_their_own():
    assert push_deliver_task.queue_name == "pushes"
    assert bulk_refresh_run_task.queue_name == "bulk"


def test_the_old_task_names_lead_to_the_same_tasks():
    assert import_string("consumers.tasks.deliver_push") is push_deliver_task
    assert import_string("consumers.tasks.run_bulk_refresh") is bulk_refresh_run_task


@database_tasks_only
def test_tasks_queued_under_their_old_names_before_an_upgrade_still_run(agent, sandbox, settings):
    # Importable only where its app is installed: with the database backend.
    from django_tasks_db.models import DBTaskResult

    settings.PUSH_RETRY_DELAY = settings.PUSH_RETRY_DELAY_MAX = 0
    consumer = services.consumer_fetch(ref=CONSUMER_REF)
    sandbox.inject(Fault(path=CONSUMER_PATH, status=503, times=None))
    queued = pushes.consumer_push_update(
        consumer=consumer,
        data={**consumer.editable_values(), "last_name": "Beirne"},
        loaded_modified_at=consumer.cdp_modified_at,
        user=agent,
        meta=RequestMeta(),
    ).push
    job = bulk.bulk_refresh_start(user=agent, refs=[CONSUMER_REF])
    # As the rows of an older release name them.
    waiting = DBTaskResult.objects.filter(status="READY")
    waiting.filter(task_path="consumers.tasks.push_deliver_task").update(
        task_path="consumers.tasks.deliver_push"
    )
    waiting.filter(task_path="consumers.tasks.bulk_refresh_run_task").update(
        task_path="consumers.tasks.run_bulk_refresh"
    )
    sandbox.clear_faults()

    run_worker()

    assert queued is not None
    assert Push.objects.get(pk=queued.pk).status == Push.Status.SUCCEEDED
    assert BulkRefresh.objects.get(pk=job.pk).status == BulkRefresh.Status.FINISHED
    assert not DBTaskResult.objects.filter(status="FAILED").exists()
