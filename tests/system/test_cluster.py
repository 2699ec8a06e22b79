"""Several processes behave as one deployment: app nodes share the circuit breaker and sessions,
each queue has its own workers, and a worker killed mid-edit loses nothing and sends nothing twice.

Real processes (gunicorn nodes, `manage.py tasks_worker` workers) on the test database, so these
need PostgreSQL. CI runs them on both task backends: the database (its second run) and RQ with
Redis (its third, with REDIS_URL and TASKS_BACKEND=rq), where the Redis tests must run: with
CI=true a REDIS_URL that does not answer fails them rather than skipping them.
"""

import copy
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from audit.services import RequestMeta
from cdp import transport
from cdp.client import get_order_consumer
from cdp.connection import current_connection
from cdp.errors import CDPCircuitOpen, CDPUnavailable
from cdp_sandbox.server import Fault
from consumers import bulk, pushes, services
from consumers.models import BulkRefresh, Push
from tests.conftest import CONSUMER_REF
from tests.system import nodes

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="several processes need a database server; CI runs these on PostgreSQL",
    ),
]
CONSUMER_PATH = f"/v2/orderConsumers/{CONSUMER_REF}"


@pytest.fixture
def shared_redis() -> str:
    """The suite's Redis (REDIS_URL), which must answer in CI; elsewhere its tests skip."""
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL (CI's third run sets it; see docs/operations.md)")
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        message = f"REDIS_URL={settings.REDIS_URL} is set but Redis does not answer: {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return settings.REDIS_URL


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[nodes.Process]]:
    """The processes a test starts, all stopped at its end (before its data is flushed)."""
    started: list[nodes.Process] = []
    yield started
    for process in started:
        process.stop()


def add_consumers(sandbox, count: int) -> list[str]:
    template = sandbox.data.consumers[CONSUMER_REF]
    refs = []
    for number in range(count):
        ref = str(uuid.UUID(int=random.Random(f"cluster-{number}").getrandbits(128), version=4))
        sandbox.data.consumers[ref] = {**copy.deepcopy(template), "ref": ref}
        refs.append(ref)
    return refs


def queue_an_edit(agent, sandbox, last_name: str) -> Push:
    """An agent's save that CDP refuses (503): the edit is queued for a worker."""
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, status=503, times=3))
    consumer = services.consumer_fetch(ref=CONSUMER_REF)
    result = pushes.consumer_push_update(
        consumer=consumer,
        data={**consumer.editable_values(), "last_name": last_name},
        loaded_modified_at=consumer.cdp_modified_at,
        user=agent,
        meta=RequestMeta(),
    )
    assert result.push is not None
    assert result.push.status == Push.Status.PENDING
    return result.push


def applied_updates(sandbox, last_name: str) -> int:
    return sum(
        1
        for request in sandbox.requests_to("POST", CONSUMER_PATH)
        if request.status == 201 and request.body.get("lastName") == last_name
    )


# --- shared state in Redis -----------------------------------------------------------------------


def test_the_circuit_breaker_is_shared_by_every_process(shared_redis, sandbox, tmp_path, settings):
    settings.CDP_RETRY_ATTEMPTS = 1
    settings.CDP_BREAKER_THRESHOLD = 3
    sandbox.inject(Fault(path=CONSUMER_PATH, status=503, times=None))
    env = nodes.node_env(sandbox, CDP_RETRY_ATTEMPTS="1", CDP_BREAKER_THRESHOLD="3")
    script = (
        "from cdp.client import get_order_consumer\nfrom cdp.errors import CDPError\n"
        "for _ in range(3):\n"
        f"    try: get_order_consumer('{CONSUMER_REF}')\n"
        "    except CDPError: pass\n"
    )

    other = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=nodes.ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert other.returncode == 0, other.stderr
    assert len(sandbox.requests_to("GET", CONSUMER_PATH)) == 3
    # This process never called CDP, yet its calls now fail at once: the other one opened it.
    assert transport.breaker_status(current_connection()).is_open
    with pytest.raises(CDPCircuitOpen):
        get_order_consumer(CONSUMER_REF)
    assert len(sandbox.requests_to("GET", CONSUMER_PATH)) == 3


def test_a_session_survives_switching_app_nodes_and_a_redis_flush(
    shared_redis, sandbox, agent, processes, tmp_path
):
    env = nodes.node_env(sandbox, SESSION_ENGINE="django.contrib.sessions.backends.cached_db")
    first, second = nodes.free_port(), nodes.free_port()
    processes += [nodes.web_node(env, port, tmp_path) for port in (first, second)]
    browser = requests.Session()

    nodes.sign_in(browser, f"http://127.0.0.1:{first}", "agent", "agent-password")
    on_the_other_node = browser.get(f"http://127.0.0.1:{second}/", allow_redirects=False)
    # Redis loses everything (a restart without persistence): the database still has it.
    redis.Redis.from_url(shared_redis).flushdb()
    after_the_flush = browser.get(f"http://127.0.0.1:{first}/", allow_redirects=False)

    assert on_the_other_node.status_code == 200, on_the_other_node.headers.get("Location")
    assert after_the_flush.status_code == 200, after_the_flush.headers.get("Location")


# --- the two queues ----------------------------------------------------------------------------


def test_both_queues_are_served_and_a_long_bulk_refresh_does_not_hold_up_a_queued_edit(
    sandbox, agent, processes, tmp_path, settings
):
    settings.PUSH_RETRY_DELAY = 0.2
    refs = add_consumers(sandbox, 60)
    # Each read of a consumer takes 0.2 s and the worker reads two at a time: about 6 seconds.
    sandbox.inject(Fault(method="GET", path="/v2/orderConsumers/.*", latency=0.2, times=None))
    env = nodes.node_env(sandbox, CDP_CONCURRENCY="1")
    processes += [nodes.worker(env, "pushes", tmp_path), nodes.worker(env, "bulk", tmp_path)]
    job = bulk.bulk_refresh_start(user=agent, refs=refs)
    nodes.wait_for(
        lambda: BulkRefresh.objects.filter(pk=job.pk, status=BulkRefresh.Status.RUNNING).exists(),
        30, "the bulk worker to start the refresh",
    )  # fmt: skip

    edit = queue_an_edit(agent, sandbox, "Beirne")
    queued = time.monotonic()
    nodes.wait_for(
        lambda: Push.objects.filter(pk=edit.pk, status=Push.Status.SUCCEEDED).exists(),
        15, "the pushes worker to deliver the edit",
    )  # fmt: skip
    delivered_after = time.monotonic() - queued
    still_refreshing = BulkRefresh.objects.get(pk=job.pk).status == BulkRefresh.Status.RUNNING
    nodes.wait_for(
        lambda: BulkRefresh.objects.filter(pk=job.pk, status=BulkRefresh.Status.FINISHED).exists(),
        60, "the bulk refresh to finish",
    )  # fmt: skip

    assert still_refreshing, "the refresh was over before the edit: the test proved nothing"
    assert delivered_after < 5, delivered_after
    assert applied_updates(sandbox, "Beirne") == 1
    assert BulkRefresh.objects.get(pk=job.pk).done == 60


# --- crash safety -------------------------------------------------------------------------------


def test_a_worker_killed_mid_edit_loses_nothing_and_sends_nothing_twice(
    sandbox, agent, processes, tmp_path, settings
):
    settings.PUSH_RETRY_DELAY = 0.2
    settings.PUSH_LOCK_SECONDS = 2  # requeue_pushes takes an attempt older than twice this over
    env = nodes.node_env(sandbox, PUSH_LOCK_SECONDS="2", PUSH_RETRY_DELAY="0.2")
    edit = queue_an_edit(agent, sandbox, "Beirne")
    # The worker's update is on its way when the worker dies.
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, latency=1.5))
    reads_before = len(sandbox.requests_to("GET", CONSUMER_PATH))
    doomed = nodes.worker(env, "pushes", tmp_path)
    processes.append(doomed)
    nodes.wait_for(
        lambda: len(sandbox.requests_to("GET", CONSUMER_PATH)) > reads_before
        and sandbox.in_flight,
        30, "the worker to send the update",
        step=0.02,
    )  # fmt: skip
    doomed.kill()
    assert Push.objects.get(pk=edit.pk).status == Push.Status.SENDING

    processes.append(nodes.worker(env, "pushes", tmp_path, number=2))
    time.sleep(2 * settings.PUSH_LOCK_SECONDS + 0.5)
    call_command("requeue_pushes", verbosity=0)  # as cron does every few minutes
    nodes.wait_for(
        lambda: Push.objects.filter(pk=edit.pk, status=Push.Status.SUCCEEDED).exists(),
        30, "the new worker to deliver the edit",
    )  # fmt: skip

    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Beirne"
    assert applied_updates(sandbox, "Beirne") == 1
    assert Push.objects.get(pk=edit.pk).attempts >= 2


def test_requeue_pushes_leaves_an_attempt_in_progress_alone(sandbox, agent, settings):
    settings.PUSH_RETRY_DELAY = 0
    edit = queue_an_edit(agent, sandbox, "Beirne")
    # Its previous try began long ago; this one is about to begin.
    long_ago = timezone.now() - timedelta(hours=1)
    Push.objects.filter(pk=edit.pk).update(attempt_started_at=long_ago)
    sandbox.inject(Fault(method="GET", path=CONSUMER_PATH, latency=1.0))

    def deliver():
        pushes.push_deliver(push_id=edit.pk)
        connection.close()

    worker = threading.Thread(target=deliver)
    worker.start()
    nodes.wait_for(
        lambda: Push.objects.filter(pk=edit.pk, status=Push.Status.SENDING).exists(),
        10, "the attempt to begin", step=0.01,
    )  # fmt: skip
    requeued = pushes.push_requeue_stuck()
    worker.join()

    assert requeued == 0
    assert Push.objects.get(pk=edit.pk).status == Push.Status.SUCCEEDED
    assert applied_updates(sandbox, "Beirne") == 1


def test_two_attempts_of_one_edit_record_one_outcome(sandbox, agent, settings):
    edit = queue_an_edit(agent, sandbox, "Beirne")
    Push.objects.filter(pk=edit.pk).update(status=Push.Status.SENDING)
    first, second = Push.objects.get(pk=edit.pk), Push.objects.get(pk=edit.pk)

    first_settled = pushes._finish(first, Push.Status.CONFLICT, "newer in CDP")
    second_settled = pushes._finish(second, Push.Status.SUCCEEDED)
    queued_again = pushes._queue(second, CDPUnavailable("CDP is unavailable."))

    assert first_settled
    assert not second_settled
    assert queued_again.entry is None
    assert Push.objects.get(pk=edit.pk).status == Push.Status.CONFLICT
