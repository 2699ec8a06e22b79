"""Delivery follows recovery: once CDP answers again, queued edits go at once, not at their next
backoff slot; and waking the queue never sends an edit twice."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.services import RequestMeta
from cdp import client, resilience, transport
from cdp.connection import current_connection
from cdp.errors import CDPError
from cdp_sandbox import seed
from cdp_sandbox.server import Fault
from consumers import pushes, services
from consumers.models import Push
from consumers.tasks import push_deliver_task
from tests.conftest import CONSUMER_REF, ORDER_REF, cdp_path, run_worker, update_method

# Run for each API version CDP speaks (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("api_version")

META = RequestMeta(ip_address="203.0.113.7", user_agent="pytest", request_id="wake")
CONSUMERS = [seed.make_ref("consumer", number) for number in range(3)]


@pytest.fixture(autouse=True)
def slow_queue(settings):
    """Queued edits wait an hour for their next try, and the quiet-time probe waits as long:
    only a recovery can make them go sooner."""
    settings.PUSH_RETRY_DELAY = settings.PUSH_RETRY_DELAY_MAX = 3600
    settings.PUSH_PROBE_INTERVAL = 3600
    settings.CDP_TIMEOUT = 0.25


def path(ref: str) -> str:
    return cdp_path("orderConsumers", ref)


def queue_an_edit(ref: str, user, sandbox, *, last_name: str = "Beirne") -> Push:
    """Save an edit while CDP answers nothing about the consumer; return the queued push."""
    consumer = services.consumer_fetch(ref=ref)
    sandbox.inject(Fault(path=path(ref), status=503, times=None))
    result = pushes.consumer_push_update(
        consumer=consumer,
        data={**consumer.editable_values(), "last_name": last_name},
        loaded_modified_at=consumer.cdp_modified_at,
        user=user,
        meta=META,
    )
    assert result.outcome == pushes.Outcome.PENDING
    assert result.push is not None
    return result.push


def due_now(push: Push) -> bool:
    push.refresh_from_db()
    return push.next_try_at is not None and push.next_try_at <= timezone.now()


def test_a_queued_edit_waits_for_its_slot_while_nothing_says_cdp_is_back(agent, sandbox):
    queued = queue_an_edit(CONSUMER_REF, agent, sandbox)
    sandbox.clear_faults()

    run_worker()

    assert not due_now(queued)
    assert Push.objects.get().status == Push.Status.PENDING


def test_when_the_breakers_trial_call_succeeds_the_queue_is_due_now_and_one_worker_run_sends_it(
    agent, sandbox, settings
):
    settings.CDP_BREAKER_THRESHOLD, settings.CDP_BREAKER_COOLDOWN = 2, 0
    queued = queue_an_edit(CONSUMER_REF, agent, sandbox)
    with pytest.raises(CDPError):
        services.consumer_fetch(ref=CONSUMER_REF)  # the second failure opens the breaker
    assert transport.breaker_status(current_connection()).consecutive_failures == 2
    sandbox.clear_faults()
    assert not due_now(queued)

    services.consumer_fetch(ref=seed.make_ref("consumer", 1))  # the trial call: CDP answers

    assert due_now(queued)
    run_worker()
    assert Push.objects.get().status == Push.Status.SUCCEEDED
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Beirne"


def test_a_call_that_succeeds_after_failures_wakes_the_queue_too(agent, sandbox):
    queued = queue_an_edit(CONSUMER_REF, agent, sandbox)
    breaker = transport.breaker_status(current_connection())
    assert breaker.consecutive_failures == 1  # not enough to open the breaker
    sandbox.clear_faults()

    services.consumer_fetch(ref=seed.make_ref("consumer", 1))

    assert due_now(queued)
    run_worker()
    assert Push.objects.get().status == Push.Status.SUCCEEDED


def test_the_first_edit_delivered_after_recovery_brings_the_others_along(agent, sandbox):
    queued = [
        queue_an_edit(ref, agent, sandbox, last_name=f"Walsh{n}") for n, ref in enumerate(CONSUMERS)
    ]
    sandbox.clear_faults()
    services.consumer_fetch(ref=seed.make_ref("consumer", 5))  # CDP answers: the oldest goes first
    assert due_now(queued[0])

    run_worker()

    assert [p.status for p in Push.objects.order_by("pk")] == [Push.Status.SUCCEEDED] * 3
    assert [sandbox.consumer(ref)["lastName"] for ref in CONSUMERS] == [
        "Walsh0",
        "Walsh1",
        "Walsh2",
    ]


def test_a_woken_edit_that_cdp_refuses_again_costs_no_try_and_keeps_its_slot(agent, sandbox):
    queued = queue_an_edit(CONSUMER_REF, agent, sandbox)
    queued.refresh_from_db()
    slot, attempts = queued.next_attempt_at, queued.attempts
    sandbox.clear_faults()
    sandbox.inject(Fault(method=update_method(), path=path(CONSUMER_REF), status=503, times=None))
    services.consumer_fetch(ref=seed.make_ref("consumer", 1))  # reads work: woken

    run_worker()

    queued.refresh_from_db()
    assert queued.status == Push.Status.PENDING
    assert (queued.next_attempt_at, queued.attempts) == (slot, attempts)
    assert (
        len(sandbox.requests_to(update_method(), path(CONSUMER_REF))) == 3
    )  # the woken try's attempts


def test_while_edits_wait_the_oldest_is_probed_long_before_its_slot(agent, sandbox, settings):
    settings.PUSH_PROBE_INTERVAL = 5

    first = queue_an_edit(CONSUMER_REF, agent, sandbox)
    first.refresh_from_db()
    assert first.queued_at is not None
    assert first.woken_at is not None
    assert first.next_attempt_at is not None
    assert first.queued_at + timedelta(seconds=5) <= first.woken_at < first.next_attempt_at

    second = queue_an_edit(seed.make_ref("consumer", 1), agent, sandbox)

    second.refresh_from_db()
    assert second.woken_at is None  # one edit probes for the whole queue


def test_a_probe_finds_cdp_back_though_nothing_else_calls_it_and_costs_no_try(
    agent, sandbox, settings, monkeypatch
):
    # As if the probe's interval had passed.
    settings.PUSH_PROBE_INTERVAL = 0
    monkeypatch.setattr(pushes, "PROBE_FLOOR_SECONDS", 0)
    queued = queue_an_edit(CONSUMER_REF, agent, sandbox)
    assert due_now(queued)
    sandbox.clear_faults()

    run_worker()

    queued.refresh_from_db()
    assert (queued.status, queued.attempts) == (Push.Status.SUCCEEDED, 1)


def test_duplicated_tasks_never_send_an_edit_twice(agent, sandbox, settings):
    settings.PUSH_RETRY_DELAY = settings.PUSH_RETRY_DELAY_MAX = 0
    queue_an_edit(CONSUMER_REF, agent, sandbox)
    queued = Push.objects.get()
    sandbox.clear_faults()
    for _ in range(3):
        push_deliver_task.enqueue(queued.pk)
    pushes.push_queue_wake()

    run_worker()

    assert Push.objects.get().status == Push.Status.SUCCEEDED
    assert len(sandbox.requests_to(update_method(), path(CONSUMER_REF))) == 1


def test_a_task_that_comes_early_does_nothing_before_the_edits_slot(agent, sandbox):
    queued = queue_an_edit(CONSUMER_REF, agent, sandbox)
    sandbox.clear_faults()
    push_deliver_task.enqueue(queued.pk)  # a stray task, due now; the edit's slot is an hour away

    run_worker()

    assert Push.objects.get().status == Push.Status.PENDING
    assert sandbox.requests_to(update_method(), path(CONSUMER_REF)) == []


def test_an_update_whose_answer_was_lost_is_not_woken_before_a_straggler_could_land(
    agent, sandbox, settings
):
    settings.CDP_TIMEOUT = 0.2
    consumer = services.consumer_fetch(ref=CONSUMER_REF)
    sandbox.inject(Fault(method=update_method(), path=path(CONSUMER_REF), latency=0.5))
    result = pushes.consumer_push_update(
        consumer=consumer,
        data={**consumer.editable_values(), "last_name": "Beirne"},
        loaded_modified_at=consumer.cdp_modified_at,
        user=agent,
        meta=META,
    )
    assert result.outcome == pushes.Outcome.PENDING
    queued = result.push
    assert queued is not None

    pushes.push_queue_wake()
    pushes.push_queue_wake(everyone=True)
    pushes.push_retry_now(push=queued)

    queued.refresh_from_db()
    assert queued.not_before is not None
    assert queued.next_try_at is not None
    assert queued.next_try_at >= queued.not_before  # not woken before the straggler could land


def test_the_breaker_announces_a_recovery_once(db, sandbox, settings):
    settings.CDP_RETRY_ATTEMPTS = 1
    heard = []

    def listen(sender, **kwargs):
        heard.append(kwargs)

    resilience.cdp_answered_again.connect(listen)
    try:
        sandbox.inject(Fault(path=path(CONSUMER_REF), status=503, times=2))
        for _ in range(2):
            with pytest.raises(CDPError):
                client.get_order_consumer(CONSUMER_REF)
        client.get_order_consumer(CONSUMER_REF)
        client.get_order_consumer(CONSUMER_REF)
    finally:
        resilience.cdp_answered_again.disconnect(listen)

    assert heard == [
        {"signal": resilience.cdp_answered_again, "failures": 2, "was_open": False, "method": "GET"}
    ]


def test_a_recovery_seen_in_an_order_pages_threads_wakes_the_queue_after_them(agent, sandbox):
    queued = queue_an_edit(CONSUMER_REF, agent, sandbox)
    sandbox.clear_faults()

    services.order_fetch(ref=ORDER_REF, refresh=True)  # reads the consumers in threads

    assert due_now(queued)
