"""Saving edits to CDP: the full record, conflicts, failures, the queue and its worker."""

import os
import re
import socket
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection

from audit.models import AuditEntry
from audit.services import RequestMeta
from cdp_sandbox.server import Fault
from consumers import pushes, services
from consumers.models import OrderConsumer, Push
from consumers.pushes import Outcome
from tests.conftest import CONSUMER_REF, ORDER_REF, cdp_path, run_worker, update_method

# Run for each API version CDP speaks (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("api_version")

CONSUMER_PATH = cdp_path("orderConsumers", CONSUMER_REF)
META = RequestMeta(ip_address="203.0.113.7", user_agent="pytest", request_id="req-0001")


@pytest.fixture
def consumer(db, sandbox):
    return services.consumer_fetch(ref=CONSUMER_REF)


@pytest.fixture(autouse=True)
def quick_queue(settings):
    """Queued edits are due at once in tests, so the worker picks them up straight away."""
    settings.PUSH_RETRY_DELAY = 0
    settings.PUSH_RETRY_DELAY_MAX = 0
    settings.PUSH_MAX_ATTEMPTS = 3
    # After a lost answer to an update the next try waits twice this; keep that short too.
    settings.CDP_TIMEOUT = 0.25


def push(consumer, agent, **changes):
    data = {**consumer.editable_values(), **changes}
    return pushes.consumer_push_update(
        consumer=consumer,
        data=data,
        loaded_modified_at=consumer.cdp_modified_at,
        user=agent,
        meta=META,
        reason="pytest",
    )


def updates_sent(sandbox):
    """Every update of the consumer sent: v2's POST, v2.1's PATCH or PUT."""
    return [
        request
        for request in list(sandbox.requests)
        if request.method in ("POST", "PUT", "PATCH") and re.fullmatch(CONSUMER_PATH, request.path)
    ]


def run_worker_until_settled(timeout: float = 5.0):
    """Run the worker until no edit waits any more (a due time may lie a moment ahead)."""
    deadline = time.monotonic() + timeout
    while Push.objects.filter(status__in=Push.WAITING).exists() and time.monotonic() < deadline:
        run_worker()
        time.sleep(0.05)


def entries(action=AuditEntry.Action.EDIT):
    return list(AuditEntry.objects.filter(action=action).order_by("sequence"))


# --- the full record ---------------------------------------------------------------------------


def test_it_sends_the_whole_record_in_v2_and_only_the_change_in_v2_1_and_the_rest_survives(
    consumer, agent, sandbox, api_version
):
    before = sandbox.consumer(CONSUMER_REF)

    result = push(consumer, agent, last_name="Beirne")

    assert result.outcome == Outcome.SUCCEEDED
    [sent] = updates_sent(sandbox)
    if api_version == "v2":
        # v2 replaces the record: everything the form does not show goes back as it was.
        assert sent.method == "POST"
        kept = (
            "emails",
            "phoneNumbers",
            "dateOfBirth",
            "passportNumber",
            "passportExpiry",
            "identifiers",
            "nationality",
            "country",
            "guest",
            "orderItems",
            "specialAssistance",
        )
        for attribute in kept:
            assert sent.body[attribute] == before[attribute], attribute
    else:
        # v2.1 patches it: the changed attribute alone.
        assert (sent.method, sent.body) == ("PATCH", {"lastName": "Beirne"})
    after = sandbox.consumer(CONSUMER_REF)
    assert after["lastName"] == "Beirne"
    unchanged = ("lastName", "modifiedAt")
    assert {k: v for k, v in after.items() if k not in unchanged} == {
        k: v for k, v in before.items() if k not in unchanged
    }


def test_it_leaves_out_what_cdp_sets_itself(consumer, agent, sandbox):
    push(consumer, agent, first_name="William")

    [sent] = updates_sent(sandbox)
    assert not {"href", "ref", "createdAt", "modifiedAt", "order"} & set(sent.body)


def test_it_updates_the_cache_from_cdps_reply_and_writes_a_succeeded_audit_entry(
    consumer, agent, sandbox
):
    result = push(consumer, agent, last_name="Beirne", title="Dr")

    consumer.refresh_from_db()
    assert (consumer.last_name, consumer.title) == ("Beirne", "Dr")
    cdp_modified = sandbox.consumer(CONSUMER_REF)["modifiedAt"]
    assert consumer.cdp_modified_at.isoformat()[:23] == cdp_modified[:23]
    [entry] = entries()
    assert entry.outcome == AuditEntry.Outcome.SUCCEEDED
    who = (entry.username, entry.ip_address, entry.user_agent, entry.request_id)
    assert (*who, entry.reason_text) == ("agent", "203.0.113.7", "pytest", "req-0001", "pytest")
    assert (entry.consumer_ref, entry.order_ref) == (CONSUMER_REF, ORDER_REF)
    assert {(c.field, c.old_text, c.new_text) for c in entry.changes.all()} == {
        ("last_name", "Byrne", "Beirne"),
        ("title", "Mr", "Dr"),
    }
    assert result.consumer.last_name == "Beirne"
    assert result.push.status == Push.Status.SUCCEEDED


def test_an_unchanged_form_makes_no_call_and_no_audit_entry(consumer, agent, sandbox):
    sandbox.requests.clear()

    result = push(consumer, agent, order_item_refs=list(reversed(consumer.order_item_refs)))

    assert result.outcome == Outcome.UNCHANGED
    assert list(sandbox.requests) == []
    assert entries() == []
    assert not Push.objects.exists()


def test_clearing_an_optional_field_leaves_it_out_of_the_record(consumer, agent, sandbox):
    push(consumer, agent, title="", gender="")

    after = sandbox.consumer(CONSUMER_REF)
    assert "title" not in after
    assert "gender" not in after
    consumer.refresh_from_db()
    assert (consumer.title, consumer.gender) == ("", "")


def test_it_relinks_the_guest_and_caches_the_new_guests_name(consumer, agent, sandbox):
    other_guest = next(ref for ref in sandbox.data.guests if ref != consumer.guest_ref)

    push(consumer, agent, guest_ref=other_guest)

    assert sandbox.consumer(CONSUMER_REF)["guest"] == {
        "href": f"{sandbox.base_url}/v2/guests/{other_guest}"
    }
    consumer.refresh_from_db()
    assert (consumer.guest_ref, consumer.guest_name) == (other_guest, "Aoife Byrne")


def test_it_refuses_a_guest_cdp_does_not_know_and_sends_nothing(consumer, agent, sandbox):
    with pytest.raises(ValidationError) as caught:
        push(consumer, agent, guest_ref="00000000-0000-0000-0000-000000000000")

    assert "guest_ref" in caught.value.message_dict
    assert updates_sent(sandbox) == []
    assert entries() == []


def test_it_refuses_an_order_item_of_another_order_and_sends_nothing(consumer, agent, sandbox):
    foreign_item = next(
        ref for ref, item in sandbox.data.order_items.items() if item["order"] != ORDER_REF
    )

    with pytest.raises(ValidationError) as caught:
        push(consumer, agent, order_item_refs=[*consumer.order_item_refs, foreign_item])

    assert foreign_item in caught.value.message_dict["order_item_refs"][0]
    assert updates_sent(sandbox) == []


def test_it_reads_the_record_back_when_cdps_reply_to_an_update_is_not_the_record(
    consumer, agent, sandbox, monkeypatch
):
    original = sandbox.store._update_consumer
    monkeypatch.setattr(
        sandbox.store,
        "_update_consumer",
        lambda record, body, version: {"ref": original(record, body, version)["ref"]},
    )

    result = push(consumer, agent, last_name="Beirne")

    assert result.outcome == Outcome.SUCCEEDED
    assert result.consumer.last_name == "Beirne"
    assert result.consumer.raw["emails"] == ["liam.byrne@example.com"]


# --- conflicts ----------------------------------------------------------------------------------


def test_it_refuses_to_overwrite_a_newer_cdp_version(consumer, agent, sandbox):
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")

    result = push(consumer, agent, first_name="William")

    assert result.outcome == Outcome.CONFLICT
    assert updates_sent(sandbox) == []
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Byrne-Walsh"
    assert result.consumer.last_name == "Byrne-Walsh"
    assert result.push.status == Push.Status.CONFLICT
    assert result.push.needs_attention
    assert [e.outcome for e in entries()] == [AuditEntry.Outcome.CONFLICT]


def test_a_change_behind_the_apps_back_during_the_save_is_a_conflict(consumer, agent, sandbox):
    sandbox.inject(Fault(method="GET", path=CONSUMER_PATH, change={"title": "Dr"}))

    result = push(consumer, agent, last_name="Beirne")

    assert result.outcome == Outcome.CONFLICT
    assert updates_sent(sandbox) == []
    assert OrderConsumer.objects.get(ref=CONSUMER_REF).title == "Dr"  # CDP's confirmed version
    assert [e.outcome for e in entries()] == ["conflict"]


def test_it_compares_with_the_version_the_agent_loaded_not_the_cache(consumer, agent, sandbox):
    loaded, loaded_at = consumer.editable_values(), consumer.cdp_modified_at
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")
    services.consumer_fetch(ref=CONSUMER_REF)  # someone else's page view refreshes the cache

    result = pushes.consumer_push_update(
        consumer=OrderConsumer.objects.get(ref=CONSUMER_REF),
        data={**loaded, "first_name": "William"},
        loaded_values=loaded,
        loaded_modified_at=loaded_at,
        user=agent,
        meta=META,
    )

    assert result.outcome == Outcome.CONFLICT
    assert result.push is not None
    assert result.push.changes == {"first_name": ["Liam", "William"]}


def test_re_applying_a_conflict_sends_only_the_agents_changes_over_cdps_version(
    consumer, agent, sandbox
):
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")
    conflict = push(consumer, agent, first_name="William").push

    result = pushes.conflict_reapply(push=conflict, user=agent, meta=META)

    assert result.outcome == Outcome.SUCCEEDED
    after = sandbox.consumer(CONSUMER_REF)
    assert (after["firstName"], after["lastName"]) == ("William", "Byrne-Walsh")
    conflict.refresh_from_db()
    assert conflict.resolution == Push.Resolution.REAPPLIED
    assert [e.outcome for e in entries()] == ["conflict", "succeeded"]
    with pytest.raises(pushes.ConflictResolved):
        pushes.conflict_reapply(push=conflict, user=agent, meta=META)


def test_discarding_a_conflict_keeps_cdps_version_and_is_audited(consumer, agent, sandbox):
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")
    conflict = push(consumer, agent, first_name="William").push

    pushes.conflict_discard(push=conflict, user=agent, meta=META)

    assert sandbox.consumer(CONSUMER_REF)["firstName"] == "Liam"
    [discard] = entries(AuditEntry.Action.DISCARD)
    assert [(c.field, c.old_text, c.new_text) for c in discard.changes.all()] == [
        ("first_name", "Liam", "William")
    ]
    conflict.refresh_from_db()
    assert not conflict.needs_attention


# --- failures that need a person: a clear message, an unchanged cache, a failed audit entry -------


def assert_failed_cleanly(consumer, sandbox, result, *, status, message):
    assert result.outcome == Outcome.FAILED
    assert message in str(result.error)
    cached = OrderConsumer.objects.get(ref=CONSUMER_REF)
    assert (cached.first_name, cached.last_name, cached.cdp_modified_at) == (
        consumer.first_name, consumer.last_name, consumer.cdp_modified_at
    )  # fmt: skip
    [entry] = entries()
    assert entry.outcome == AuditEntry.Outcome.FAILED
    assert entry.cdp_status == status
    assert entry.changes.count() == 1
    assert Push.objects.get().status == Push.Status.FAILED


def test_a_validation_error_from_cdp_fails_cleanly_with_cdps_message(consumer, agent, sandbox):
    sandbox.config.max_string_length = 20

    result = push(consumer, agent, last_name="Byrne-" + "x" * 30)

    assert_failed_cleanly(
        consumer, sandbox, result, status=400, message="lastName: size must be between 0 and 20."
    )
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Byrne"


def test_a_refused_token_fails_cleanly_and_is_not_queued(consumer, agent, sandbox, settings):
    settings.CDP_API_TOKEN = "revoked"

    result = push(consumer, agent, last_name="Beirne")

    assert_failed_cleanly(
        consumer, sandbox, result, status=401, message="Authentication credentials are required"
    )


def test_a_consumer_gone_from_cdp_fails_cleanly(consumer, agent, sandbox):
    del sandbox.data.consumers[CONSUMER_REF]

    result = push(consumer, agent, last_name="Beirne")

    assert_failed_cleanly(consumer, sandbox, result, status=404, message="No order consumer found")


# --- CDP unavailable: the edit is queued, audited as pending, and the cache waits -----------------


def assert_queued(consumer, result, *, message):
    assert result.outcome == Outcome.PENDING
    assert message in str(result.error)
    cached = OrderConsumer.objects.get(ref=CONSUMER_REF)
    assert (cached.last_name, cached.cdp_modified_at) == (
        consumer.last_name,
        consumer.cdp_modified_at,
    )
    pushed = Push.objects.get()
    assert pushed.status == Push.Status.PENDING
    assert pushed.next_attempt_at is not None
    [entry] = entries()
    assert entry.outcome == AuditEntry.Outcome.PENDING
    assert [(c.field, c.new_text) for c in entry.changes.all()] == [("last_name", "Beirne")]


def refused_port() -> int:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        return unused.getsockname()[1]


def test_a_refused_connection_queues_the_edit(consumer, agent, settings, sandbox):
    settings.CDP_BASE_URL = f"http://127.0.0.1:{refused_port()}"

    result = push(consumer, agent, last_name="Beirne")

    assert_queued(consumer, result, message="connection refused")


def test_a_read_timeout_on_the_update_queues_the_edit_and_sends_it_only_once(
    consumer, agent, sandbox, settings
):
    settings.CDP_TIMEOUT = 0.2
    sandbox.inject(Fault(method=update_method(), path=CONSUMER_PATH, latency=0.5))

    result = push(consumer, agent, last_name="Beirne")

    assert_queued(consumer, result, message="did not answer within 0.2 seconds")
    assert len(updates_sent(sandbox)) == 1  # ambiguous: not repeated blindly
    run_worker_until_settled()
    assert Push.objects.get().status == Push.Status.SUCCEEDED
    assert len(updates_sent(sandbox)) == 1  # the worker saw it had landed and did not send it again
    assert OrderConsumer.objects.get(ref=CONSUMER_REF).last_name == "Beirne"
    assert [e.outcome for e in entries()] == ["pending", "succeeded"]


@pytest.mark.parametrize(
    ("call", "fault"),
    [
        ("update", {"status": 503, "times": None}),
        ("update", {"status": 502}),
        ("update", {"reset": True}),
        ("update", {"malformed": True}),
        ("GET", {"status": 504, "times": None}),
        ("GET", {"truncated": True, "times": None}),
        ("GET", {"status": 429, "retry_after": 30, "times": None}),
    ],
    ids=[
        "503-update",
        "502-update",
        "reset-update",
        "garbled-reply",
        "504-read",
        "cut-short-read",
        "429-too-long",
    ],
)
def test_cdp_failing_on_its_side_queues_the_edit_and_the_worker_delivers_it(
    consumer, agent, sandbox, call, fault
):
    method = update_method() if call == "update" else call
    sandbox.inject(Fault(method=method, path=CONSUMER_PATH, **fault))

    result = push(consumer, agent, last_name="Beirne")

    assert result.outcome == Outcome.PENDING
    assert OrderConsumer.objects.get(ref=CONSUMER_REF).last_name == "Byrne"
    sandbox.clear_faults()
    run_worker_until_settled()
    assert Push.objects.get().status == Push.Status.SUCCEEDED
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Beirne"
    assert OrderConsumer.objects.get(ref=CONSUMER_REF).last_name == "Beirne"
    assert [e.outcome for e in entries()] == ["pending", "succeeded"]


def test_the_worker_re_checks_for_a_conflict_before_it_sends(consumer, agent, sandbox):
    sandbox.inject(Fault(method=update_method(), path=CONSUMER_PATH, status=503, times=None))
    push(consumer, agent, last_name="Beirne")
    sandbox.clear_faults()
    sandbox.change_consumer(CONSUMER_REF, firstName="William")

    run_worker()

    assert Push.objects.get().status == Push.Status.CONFLICT
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Byrne"
    assert [e.outcome for e in entries()] == ["pending", "conflict"]


def test_the_worker_gives_up_after_the_last_attempt_and_says_why(consumer, agent, sandbox):
    sandbox.inject(Fault(method=update_method(), path=CONSUMER_PATH, status=503, times=None))
    push(consumer, agent, last_name="Beirne")

    for _ in range(3):
        run_worker()

    queued = Push.objects.get()
    assert (queued.status, queued.attempts) == (Push.Status.FAILED, 3)
    assert "HTTP 503" in queued.error
    assert [e.outcome for e in entries()] == ["pending", "failed"]
    assert queued in Push.objects.needing_attention()


def test_a_refusal_during_a_retry_is_final(consumer, agent, sandbox):
    sandbox.inject(Fault(method=update_method(), path=CONSUMER_PATH, status=503, times=None))
    push(consumer, agent, last_name="Beirne")
    sandbox.clear_faults()
    sandbox.config.max_string_length = 3

    run_worker()

    queued = Push.objects.get()
    assert queued.status == Push.Status.FAILED
    assert "size must be between 0 and 3" in queued.error
    assert entries()[-1].cdp_status == 400


def test_a_cancelled_edit_is_never_sent(consumer, agent, supervisor, sandbox):
    sandbox.inject(Fault(method=update_method(), path=CONSUMER_PATH, status=503, times=None))
    queued = push(consumer, agent, last_name="Beirne").push
    sandbox.clear_faults()

    assert pushes.push_cancel(push=queued, user=supervisor, meta=META)
    run_worker()

    queued.refresh_from_db()
    assert queued.status == Push.Status.CANCELLED
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Byrne"
    [cancel] = entries(AuditEntry.Action.CANCEL)
    assert cancel.username == "supervisor"
    assert not pushes.push_cancel(push=queued, user=supervisor, meta=META)


def test_retry_now_puts_a_queued_edit_first(consumer, agent, sandbox, settings):
    settings.PUSH_RETRY_DELAY = settings.PUSH_RETRY_DELAY_MAX = 3600
    sandbox.inject(Fault(method=update_method(), path=CONSUMER_PATH, status=503, times=None))
    queued = push(consumer, agent, last_name="Beirne").push
    sandbox.clear_faults()
    run_worker()
    assert Push.objects.get().status == Push.Status.PENDING  # not due for an hour

    assert pushes.push_retry_now(push=queued)
    run_worker()

    assert Push.objects.get().status == Push.Status.SUCCEEDED


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="a second process needs a database server; CI runs this on PostgreSQL",
)
def test_a_queued_edit_survives_a_restart_and_a_new_worker_process_sends_it(agent, sandbox):
    consumer = services.consumer_fetch(ref=CONSUMER_REF)
    sandbox.inject(Fault(method=update_method(), path=CONSUMER_PATH, status=503, times=None))
    push(consumer, agent, last_name="Beirne")
    sandbox.clear_faults()

    database = connection.settings_dict
    worker = subprocess.run(
        [sys.executable, "manage.py", "tasks_worker", "pushes", "--burst"],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "DEBUG": "true",
            "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
            "CDP_BASE_URL": sandbox.base_url,
            "CDP_CLIENT_KEY": sandbox.config.client_key,
            "CDP_API_TOKEN": sandbox.config.api_token,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert worker.returncode == 0, worker.stderr
    assert Push.objects.get().status == Push.Status.SUCCEEDED
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Beirne"


def test_an_attempt_cut_short_by_a_crash_is_queued_again_and_not_repeated(
    consumer, agent, sandbox, settings
):
    # A save reached CDP, then the process died before it recorded anything.
    crashed = Push.objects.create(
        consumer_ref=CONSUMER_REF, order_ref=ORDER_REF, object_repr="Liam Byrne", user=agent,
        loaded=consumer.editable_values(), changes={"last_name": ["Byrne", "Beirne"]},
        loaded_modified_at=consumer.cdp_modified_at, attempts=1,
    )  # fmt: skip
    sandbox.change_consumer(CONSUMER_REF, lastName="Beirne")
    settings.PUSH_LOCK_SECONDS = -1  # make the half-done attempt count as stale at once

    assert pushes.push_requeue_stuck() == 1
    run_worker()

    crashed.refresh_from_db()
    assert crashed.status == Push.Status.SUCCEEDED
    assert updates_sent(sandbox) == []


def test_a_save_waits_for_another_save_of_the_same_consumer_then_queues(
    consumer, agent, sandbox, monkeypatch
):
    monkeypatch.setattr(pushes, "LOCK_WAIT_SECONDS", 0.2)
    token = pushes._lock(CONSUMER_REF, wait=0)  # another save is in flight
    assert token is not None

    result = push(consumer, agent, last_name="Beirne")

    assert result.outcome == Outcome.PENDING
    assert "Another save of this consumer is still in progress" in str(result.error)
    assert updates_sent(sandbox) == []
    pushes._unlock(CONSUMER_REF, token)
    run_worker()
    assert Push.objects.get().status == Push.Status.SUCCEEDED


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="threads need a real database server; CI runs this on PostgreSQL",
)
def test_two_saves_of_one_consumer_at_once_take_turns(agent, supervisor, sandbox):
    consumer = services.consumer_fetch(ref=CONSUMER_REF)
    loaded, loaded_at = consumer.editable_values(), consumer.cdp_modified_at
    sandbox.inject(Fault(method="GET", path=CONSUMER_PATH, latency=0.3, times=1))
    results = {}

    def save(user, last_name):
        results[last_name] = pushes.consumer_push_update(
            consumer=OrderConsumer.objects.get(ref=CONSUMER_REF),
            data={**loaded, "last_name": last_name},
            loaded_values=loaded,
            loaded_modified_at=loaded_at,
            user=user,
            meta=META,
        ).outcome
        connection.close()

    threads = [
        threading.Thread(target=save, args=args)
        for args in ((agent, "First"), (supervisor, "Second"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results.values()) == ["conflict", "succeeded"]
    assert len(updates_sent(sandbox)) == 1
