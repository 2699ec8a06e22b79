"""Forgetting a person CDP erased: nothing of theirs is kept, queued or sent again, and the audit
log keeps every entry, verifiable, with their values erased."""

import io
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from approvals.models import ApprovalRequest
from audit.models import AuditEntry
from audit.services import RequestMeta, audit_checkpoint_create, audit_entries_reveal
from cdp import client
from cdp.errors import CDPErased
from cdp.models import ErasedRef
from cdp_sandbox.server import Fault
from consumers import bulk, edits, pushes, services
from consumers.models import BulkRefreshItem, ConsumerView, Order, OrderConsumer, Push
from privacy import rectify
from privacy import services as privacy
from privacy.models import ErasureRequest, Rectification
from tests.approvals.conftest import OTHER_GUEST_REF
from tests.conftest import CONSUMER_REF, GUEST_REF, ORDER_REF, run_worker
from tests.privacy.conftest import SECOND_REF

META = RequestMeta(ip_address="203.0.113.60", user_agent="pytest", request_id="erasure-test")
CONSUMER_PATH = f"/v2/orderConsumers/{CONSUMER_REF}"


@pytest.fixture(autouse=True)
def keys(settings):
    settings.AUDIT_CHECKPOINT_KEY = "a-key-that-lives-outside-the-database"
    settings.PUSH_RETRY_DELAY = 0
    settings.PUSH_RETRY_DELAY_MAX = 0


def edit(user, ref=CONSUMER_REF, **changes):
    consumer = services.consumer_fetch(ref=ref)
    return pushes.consumer_push_update(
        consumer=consumer,
        data={**consumer.editable_values(), **changes},
        loaded_modified_at=consumer.cdp_modified_at,
        user=user,
        meta=META,
        reason="Customer called about Byrne",
    )


def erase(administrator, **extra) -> ErasureRequest:
    return privacy.erasure_record(
        guest_ref=GUEST_REF,
        ticket="DSR-1042",
        cdp_confirmed_on=date(2026, 11, 30),
        user=administrator,
        meta=META,
        **extra,
    )


def verify() -> str:
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


def queue_an_edit(agent, sandbox) -> Push:
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, status=503, times=None))
    result = edit(agent, first_name="William")
    assert result.outcome == pushes.Outcome.PENDING
    sandbox.clear_faults()
    assert result.push is not None
    return result.push


def test_an_erasure_forgets_the_person_everywhere_in_one_step(
    agent, administrator, sandbox, three_bookings
):
    edit(agent, last_name="Beirne")
    edit(agent, ref=SECOND_REF, title="Dr")
    queued = queue_an_edit(agent, sandbox)
    bulk.bulk_refresh_start(user=agent, refs=[CONSUMER_REF, SECOND_REF])
    services.consumer_mark_viewed(consumer=OrderConsumer.objects.get(ref=CONSUMER_REF), user=agent)
    audit_checkpoint_create()

    erasure = erase(administrator)

    assert sorted(erasure.consumer_refs) == sorted([CONSUMER_REF, SECOND_REF])
    assert erasure.counts["queued_edits_cancelled"] == 1
    assert erasure.counts["bulk_items_cancelled"] == 2
    assert erasure.counts["consumers_deleted"] == 2
    assert erasure.counts["audit_keys_shredded"] >= 1
    assert not Push.objects.filter(consumer_ref__in=erasure.consumer_refs).exists()
    assert not OrderConsumer.objects.filter(guest_ref=GUEST_REF).exists()
    assert not ConsumerView.objects.exists()
    assert not Order.objects.filter(ref=ORDER_REF).exists()
    assert set(BulkRefreshItem.objects.values_list("result", flat=True)) == {"skipped"}
    assert set(ErasedRef.objects.values_list("ref", flat=True)) == {
        GUEST_REF,
        CONSUMER_REF,
        SECOND_REF,
    }
    # The audit log keeps every entry, with the person's values erased, and still verifies.
    about_them = audit_entries_reveal(
        AuditEntry.objects.filter(consumer_ref__in=erasure.consumer_refs)
        .exclude(action=AuditEntry.Action.CANCEL)
        .prefetch_related("changes")
    )
    assert about_them
    assert {entry.record_text for entry in about_them} == {"erased"}
    assert {c.new_text for entry in about_them for c in entry.changes.all()} == {"erased"}
    cancel = AuditEntry.objects.get(action=AuditEntry.Action.CANCEL)
    assert cancel.supersedes_id == queued.pending_entry_id  # the queued edit counts as cancelled
    assert "chain and checkpoints intact" in verify()


def test_the_erasure_is_audited_with_its_ticket_and_counts_never_the_person(
    agent, administrator, sandbox
):
    edit(agent, last_name="Beirne")

    erasure = erase(administrator)

    entry = AuditEntry.objects.get(action=AuditEntry.Action.ERASURE)
    assert entry.pk == erasure.audit_entry_id
    assert entry.username == "administrator"
    assert "DSR-1042" in entry.object_repr
    assert "CDP confirmed the erasure on 2026-11-30" in entry.reason
    assert "1 cached consumers deleted" in entry.reason
    text = " ".join([entry.object_repr, entry.reason, entry.consumer_ref, entry.subject])
    for personal in ("Liam", "Byrne", "Beirne", GUEST_REF, CONSUMER_REF):
        assert personal not in text


def test_a_queued_edit_for_an_erased_person_is_never_sent(agent, administrator, sandbox):
    queue_an_edit(agent, sandbox)
    erase(administrator)
    sandbox.requests.clear()

    run_worker()

    assert sandbox.requests_to("POST", CONSUMER_PATH) == []
    assert sandbox.consumer(CONSUMER_REF)["firstName"] == "Liam"


def test_no_call_sends_an_erased_persons_data_whatever_asks(agent, administrator, sandbox):
    erase(administrator, extra_consumer_refs=[SECOND_REF])
    sandbox.requests.clear()

    with pytest.raises(CDPErased, match="nothing of theirs is sent"):
        client.update_order_consumer(SECOND_REF, {"firstName": "Liam", "lastName": "Byrne"})
    # Linking someone else to the erased guest sends the guest's ref with a record: refused too.
    with pytest.raises(CDPErased):
        client.update_order_consumer(
            "another-consumer", {"firstName": "A", "guest": {"href": f"x/v2/guests/{GUEST_REF}"}}
        )
    with pytest.raises(CDPErased, match="CDP was not asked"):
        client.find_order_refs_of_guest(GUEST_REF)

    assert [r.method for r in sandbox.requests] == []


def test_a_later_page_view_of_an_erased_ref_stores_nothing(
    agent_client, agent, administrator, sandbox
):
    services.consumer_fetch(ref=CONSUMER_REF)
    erase(administrator)
    sandbox.requests.clear()

    response = agent_client.get(reverse("consumers:detail", args=[CONSUMER_REF]))

    assert response.status_code == 404
    content = response.content.decode()
    assert "erased on" in content
    assert "DSR-1042" in content
    assert "CDP still holds the record" in content  # the sandbox has not deleted it
    assert "Liam" not in content
    assert "Byrne" not in content
    assert not OrderConsumer.objects.exists()
    assert not ConsumerView.objects.exists()
    # Only the read that confirms whether it is gone, and nothing else about them.
    assert [(r.method, r.path) for r in sandbox.requests] == [("GET", CONSUMER_PATH)]


def test_once_cdp_has_deleted_the_record_a_view_confirms_it_is_gone(
    agent_client, administrator, sandbox
):
    services.consumer_fetch(ref=CONSUMER_REF)
    erase(administrator)
    with sandbox.lock:
        del sandbox.data.consumers[CONSUMER_REF]

    response = agent_client.get(reverse("consumers:detail", args=[CONSUMER_REF]))

    assert "CDP confirms that it no longer holds the record" in response.content.decode()
    assert not OrderConsumer.objects.exists()


def test_a_trip_of_the_erased_guest_the_back_office_never_knew_is_not_kept_either(
    agent_client, administrator, sandbox, three_bookings
):
    erase(administrator)  # nothing cached: CDP holds trips the back office never saw

    response = agent_client.get(reverse("consumers:detail", args=[SECOND_REF]))

    assert response.status_code == 404
    assert f"{SECOND_REF} is theirs: nothing of it was shown or kept" in response.content.decode()
    assert not OrderConsumer.objects.exists()


def test_an_order_page_lists_the_erased_consumer_as_not_shown(agent_client, administrator, sandbox):
    erase(administrator)

    response = agent_client.get(reverse("consumers:order", args=[ORDER_REF]))

    assert response.status_code == 200
    assert not OrderConsumer.objects.filter(ref=CONSUMER_REF).exists()
    assert OrderConsumer.objects.filter(order_ref=ORDER_REF).count() == 2  # the others


def test_an_administrator_records_an_erasure_after_seeing_what_it_will_do(
    client, administrator, agent, sandbox
):
    edit(agent, last_name="Beirne")
    client.force_login(administrator)
    data = {"guest_ref": GUEST_REF, "ticket": "DSR-7", "cdp_confirmed_on": "2026-11-30"}

    preview = client.post(reverse("privacy:erasures"), data)
    assert preview.status_code == 200
    assert "1 cached consumers deleted" in preview.content.decode()
    assert not ErasedRef.objects.exists()  # nothing done yet

    done = client.post(reverse("privacy:erasures"), {**data, "confirm": "yes"}, follow=True)
    assert done.status_code == 200
    assert "The person of ticket DSR-7 is forgotten here." in done.content.decode()
    assert ErasedRef.objects.filter(ref=GUEST_REF).exists()


def test_a_bad_erasure_request_is_refused_with_a_clear_message(client, administrator):
    client.force_login(administrator)
    tomorrow = (timezone.now().date() + timedelta(days=1)).isoformat()

    response = client.post(
        reverse("privacy:erasures"),
        {"guest_ref": "not a ref", "ticket": "", "cdp_confirmed_on": tomorrow, "confirm": "yes"},
    )

    content = response.content.decode()
    assert response.status_code == 200
    assert "is not a CDP ref" in content
    assert "cannot be in the future" in content
    assert not ErasedRef.objects.exists()


def test_a_correction_waiting_for_the_worker_is_dropped_with_the_person(
    agent, administrator, sandbox
):
    person = rectify.person_records(consumer_ref=CONSUMER_REF)
    job = rectify.rectification_prepare(
        person=person,
        wanted={"title": "Dr", "first_name": "Liam", "last_name": "Beirne", "gender": "male"},
        reason="call",
        user=agent,
        meta=META,
    )
    rectify.rectification_start(job=job, item_ids=list(job.items.values_list("pk", flat=True)))

    erasure = erase(administrator)
    sandbox.requests.clear()
    run_worker()

    assert erasure.counts["corrections_deleted"] == 1
    assert not Rectification.objects.exists()
    assert sandbox.requests_to("POST", CONSUMER_PATH) == []


def test_an_erasure_deletes_the_persons_approval_requests_and_counts_the_waiting_ones(
    agent, administrator, sandbox
):
    consumer = services.consumer_fetch(ref=CONSUMER_REF)
    loaded = consumer.editable_values()
    held = edits.consumer_edit_save(
        consumer=consumer,
        data={**loaded, "guest_ref": OTHER_GUEST_REF},  # a re-link: the policy's default holds it
        loaded_values=loaded,
        loaded_modified_at=consumer.cdp_modified_at,
        user=agent,
        meta=META,
        reason="Customer asked to move the trip",
    ).held
    assert held is not None
    assert ApprovalRequest.objects.get(pk=held.pk).status == ApprovalRequest.Status.WAITING

    erasure = erase(administrator)

    assert not ApprovalRequest.objects.filter(consumer_ref=CONSUMER_REF).exists()
    assert erasure.counts["approvals_cancelled"] == 1
    entry = AuditEntry.objects.get(action=AuditEntry.Action.ERASURE)
    assert "1 approvals cancelled" in entry.reason
