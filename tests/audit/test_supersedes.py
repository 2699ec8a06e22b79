"""A queued edit's final audit entry names the pending entry it settles, inside the hash chain."""

import csv
import io
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from audit.models import AuditEntry
from audit.services import RequestMeta
from cdp_sandbox.server import Fault
from consumers import pushes, services
from tests.conftest import CONSUMER_REF, OTHER_CONSUMER_REF, run_worker

CONSUMER_PATH = f"/v2/orderConsumers/{CONSUMER_REF}"


@pytest.fixture(autouse=True)
def quick_queue(settings):
    settings.PUSH_RETRY_DELAY = 0
    settings.PUSH_RETRY_DELAY_MAX = 0
    settings.PUSH_MAX_ATTEMPTS = 2


def push(agent, ref=CONSUMER_REF, request_id="req-1", **changes):
    consumer = services.consumer_fetch(ref=ref)
    return pushes.consumer_push_update(
        consumer=consumer,
        data={**consumer.editable_values(), **changes},
        loaded_modified_at=consumer.cdp_modified_at,
        user=agent,
        meta=RequestMeta(ip_address="203.0.113.7", request_id=request_id),
    )


def saves() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action="edit").order_by("sequence"))


def verify() -> str:
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


def test_a_delivered_queued_edit_settles_its_pending_entry(agent, sandbox):
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, status=503, times=None))
    push(agent, last_name="Beirne")
    sandbox.clear_faults()

    run_worker()

    pending, delivered = saves()
    assert (pending.outcome, delivered.outcome) == ("pending", "succeeded")
    assert delivered.supersedes == pending
    assert pending.superseded_by == delivered
    assert "Audit log verified: 2 entries" in verify()


@pytest.mark.parametrize("outcome", ["failed", "conflict"])
def test_a_queued_edit_that_fails_or_conflicts_at_last_settles_its_pending_entry(
    agent, sandbox, outcome
):
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, status=503, times=None))
    push(agent, last_name="Beirne")
    if outcome == "conflict":
        sandbox.clear_faults()
        sandbox.change_consumer(CONSUMER_REF, firstName="William")

    run_worker()
    run_worker()

    pending, final = saves()
    assert final.outcome == outcome
    assert final.supersedes == pending


def test_a_cancelled_queued_edit_settles_its_pending_entry(agent, supervisor, sandbox):
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, status=503, times=None))
    queued = push(agent, last_name="Beirne").push

    pushes.push_cancel(push=queued, user=supervisor, meta=RequestMeta(request_id="req-2"))

    [pending] = saves()
    cancel = AuditEntry.objects.get(action=AuditEntry.Action.CANCEL)
    assert cancel.supersedes == pending


def test_a_save_cdp_took_at_once_settles_nothing(agent):
    push(agent, last_name="Beirne")

    [saved] = saves()
    assert saved.supersedes is None


def test_queued_edits_of_two_consumers_each_settle_their_own(agent, sandbox):
    sandbox.inject(Fault(method="POST", status=503, times=None))
    push(agent, last_name="Beirne", request_id="req-a")
    push(agent, ref=OTHER_CONSUMER_REF, last_name="Walsh", request_id="req-b")
    sandbox.clear_faults()

    run_worker()

    by_ref: dict[str, list[AuditEntry]] = {}
    for entry in saves():
        by_ref.setdefault(entry.consumer_ref, []).append(entry)
    for pending, final in by_ref.values():
        assert final.supersedes == pending


def test_two_queued_edits_of_one_consumer_from_one_request_each_settle_their_own(agent, sandbox):
    # Scripts make saves with no request id, and the second of two may be delivered first:
    # each push names its own pending entry.
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, status=503, times=None))
    push(agent, request_id="", last_name="Beirne")
    second = push(agent, request_id="", title="Dr")
    sandbox.clear_faults()
    pushes.Push.objects.filter(pk=second.push.pk).update(next_attempt_at=datetime.now(UTC))

    pushes.push_deliver(push_id=second.push.pk)

    first_pending, second_pending, delivered = AuditEntry.objects.filter(
        consumer_ref=CONSUMER_REF
    ).order_by("sequence")
    assert (first_pending.outcome, delivered.outcome) == ("pending", "succeeded")
    assert delivered.supersedes == second_pending
    assert not hasattr(first_pending, "superseded_by")


def test_an_entry_without_the_link_keeps_the_hash_it_had_before_the_link_existed():
    # An edit entry as written before `supersedes` existed, and the hash it was written with.
    entry = AuditEntry(
        sequence=7, action_time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), user_id=3,
        username="agent", ip_address="203.0.113.5", user_agent="Firefox", request_id="r-1",
        action="edit", consumer_ref="c-1", order_ref="o-1", object_repr="Ms A",
        outcome="succeeded", cdp_status=None, cdp_message="", reason="typo", reverts_id=None,
        prev_hash="a" * 64,
    )  # fmt: skip

    assert entry.compute_hash([("last_name", "Old", "New")]) == (
        "ebaa6659dc61eb2638d51fd970cd12eb0fbd223d8d446d215b15b023bbe81ba1"
    )
    assert b"supersedes" not in entry.canonical_content([])


def test_moving_the_link_to_another_entry_breaks_the_chain(agent, sandbox):
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, status=503, times=None))
    push(agent, last_name="Beirne")
    sandbox.clear_faults()
    run_worker()
    delivered = saves()[-1]

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditentry SET supersedes_id = NULL WHERE id = %s", [delivered.pk]
        )

    with pytest.raises(Exception, match=f"Entry {delivered.sequence} .* was changed"):
        verify()


def test_the_audit_list_shows_which_queued_entry_a_final_one_settles(
    client, supervisor, agent, sandbox
):
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, status=503, times=None))
    push(agent, last_name="Beirne")
    sandbox.clear_faults()
    run_worker()
    pending, delivered = saves()
    client.force_login(supervisor)

    everything = client.get(reverse("audit:list"), {"action": "saves"})
    final = client.get(reverse("audit:list"), {"action": "saves", "final": "1"})

    page = everything.content.decode()
    assert f'Settles queued entry <a href="/audit/{pending.pk}/">{pending.sequence}</a>' in page
    assert [e["sequence"] for e in everything.context["entries"]] == [
        delivered.sequence,
        pending.sequence,
    ]
    assert [e["sequence"] for e in final.context["entries"]] == [delivered.sequence]


def test_the_export_names_the_queued_entry_a_final_one_settles(client, supervisor, agent, sandbox):
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, status=503, times=None))
    push(agent, last_name="Beirne")
    sandbox.clear_faults()
    run_worker()
    pending, delivered = saves()
    client.force_login(supervisor)

    response = client.get(reverse("audit:export"), {"action": "saves"})

    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    settles = {row["sequence"]: row["settles_sequence"] for row in rows}
    assert settles == {str(delivered.sequence): str(pending.sequence), str(pending.sequence): ""}
