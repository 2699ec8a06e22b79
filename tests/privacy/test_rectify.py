"""Correcting a person everywhere: every record found, a preview per record, a background job in
which each record is its own conflict-checked save and audit entry under one correlation id."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse

from approvals.models import ApprovalRequest
from approvals.services import approval_policy_get
from audit.models import AuditEntry
from audit.services import RequestMeta
from cdp_sandbox.server import Fault
from consumers.models import Push
from privacy import rectify
from privacy.models import Rectification, RectificationItem
from tests.conftest import CONSUMER_REF, GUEST_REF, run_worker
from tests.privacy.conftest import SECOND_REF, THIRD_REF

META = RequestMeta(ip_address="203.0.113.50", user_agent="pytest", request_id="rectify-test")
WANTED = {"title": "Dr", "first_name": "Liam", "last_name": "Beirne", "gender": "male"}


@pytest.fixture(autouse=True)
def quick_queue(settings):
    settings.PUSH_RETRY_DELAY = 0
    settings.PUSH_RETRY_DELAY_MAX = 0


def prepare(agent, **start) -> Rectification:
    person = rectify.person_records(**(start or {"consumer_ref": CONSUMER_REF}))
    return rectify.rectification_prepare(
        person=person, wanted=WANTED, reason="Passport shows Beirne", user=agent, meta=META
    )


def test_it_finds_every_record_of_the_person_and_says_how_complete_the_list_is(db, three_bookings):
    person = rectify.person_records(consumer_ref=CONSUMER_REF)

    assert person.guest_ref == GUEST_REF
    assert sorted(f.consumer.ref for f in person.found) == sorted(three_bookings)
    bookings = {f.order.reference_id for f in person.found if f.order is not None}
    assert len(bookings) == 3  # three bookings, each with its reference
    assert "CDP lists 3 order(s) for this guest; 3 were read" in person.completeness[0]
    assert any("someone else's booking" in line for line in person.completeness)


def test_starting_from_the_guest_finds_the_same_records(db, three_bookings):
    person = rectify.person_records(guest_ref=GUEST_REF)

    assert sorted(f.consumer.ref for f in person.found) == sorted(three_bookings)


def test_a_consumer_without_a_guest_is_listed_alone_and_says_why(db, sandbox):
    sandbox.change_consumer(CONSUMER_REF, guest=None)

    person = rectify.person_records(consumer_ref=CONSUMER_REF)

    assert [f.consumer.ref for f in person.found] == [CONSUMER_REF]
    assert "linked to no guest" in person.completeness[0]


def test_the_preview_shows_the_change_per_record_and_marks_unchanged_fields(agent, three_bookings):
    job = prepare(agent)

    changes = {item.consumer_ref: item.changes for item in job.items.all()}
    assert changes[CONSUMER_REF] == {"title": ["Mr", "Dr"], "last_name": ["Byrne", "Beirne"]}
    assert changes[THIRD_REF] == {"last_name": ["Byrne", "Beirne"]}  # the title is right already
    assert job.status == Rectification.Status.DRAFT
    assert not Push.objects.exists()  # nothing is sent before the agent chooses


def test_the_job_corrects_each_chosen_record_with_its_own_audited_save(
    agent, sandbox, three_bookings
):
    job = prepare(agent)
    chosen = list(job.items.exclude(consumer_ref=SECOND_REF).values_list("pk", flat=True))

    rectify.rectification_start(job=job, item_ids=chosen)
    run_worker()

    job.refresh_from_db()
    assert (job.status, job.total, job.done, job.failed) == ("finished", 2, 2, 0)
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Beirne"
    assert sandbox.consumer(THIRD_REF)["lastName"] == "Beirne"
    assert sandbox.consumer(SECOND_REF)["lastName"] == "Byrne"  # not chosen: untouched
    entries = AuditEntry.objects.filter(request_id=job.correlation_id)
    assert sorted(entries.values_list("consumer_ref", flat=True)) == sorted(
        [CONSUMER_REF, THIRD_REF]
    )
    assert {entry.reason_text for entry in entries} == {"Passport shows Beirne"}
    assert set(entries.values_list("outcome", flat=True)) == {"succeeded"}


def test_a_field_the_approval_policy_holds_waits_for_a_supervisor_and_the_rest_is_sent(
    agent, sandbox, three_bookings
):
    policy = approval_policy_get()
    policy.fields = ["last_name"]  # as a company might for names on bookings
    policy.save()
    job = prepare(agent)
    item = job.items.get(consumer_ref=CONSUMER_REF)

    rectify.rectification_start(job=job, item_ids=[item.pk])
    run_worker()

    item.refresh_from_db()
    assert item.result == RectificationItem.Result.HELD
    request = ApprovalRequest.objects.get(consumer_ref=CONSUMER_REF)
    assert request.status == ApprovalRequest.Status.WAITING
    assert set(request.changes) == {"last_name"}
    assert f"approval (request {request.pk})" in item.error
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Byrne"  # waits for the approver
    assert sandbox.consumer(CONSUMER_REF)["title"] == "Dr"  # not held: sent


def test_a_conflicting_and_a_failing_record_are_listed_with_what_to_do(
    agent, sandbox, three_bookings
):
    job = prepare(agent)
    all_items = list(job.items.values_list("pk", flat=True))
    # After the preview, someone changes the second record in CDP; the third is refused.
    sandbox.change_consumer(SECOND_REF, firstName="William")
    sandbox.inject(
        Fault(method="POST", path=f"/v2/orderConsumers/{THIRD_REF}", status=400, times=None)
    )

    rectify.rectification_start(job=job, item_ids=all_items)
    run_worker()

    job.refresh_from_db()
    results = {item.consumer_ref: item for item in job.items.all()}
    assert results[CONSUMER_REF].result == RectificationItem.Result.APPLIED
    conflict, failure = results[SECOND_REF], results[THIRD_REF]
    assert conflict.result == RectificationItem.Result.CONFLICT
    assert "Open the conflict" in conflict.error
    assert conflict.push_id is not None
    assert Push.objects.get(pk=conflict.push_id).status == Push.Status.CONFLICT
    assert failure.result == RectificationItem.Result.FAILED
    assert "CDP refused it" in failure.error
    assert "HTTP 400" in failure.error
    assert (job.done, job.failed) == (3, 2)
    assert sandbox.consumer(SECOND_REF)["firstName"] == "William"  # nothing overwritten
    outcomes = AuditEntry.objects.filter(request_id=job.correlation_id).values_list(
        "consumer_ref", "outcome"
    )
    assert sorted(outcomes) == sorted(
        [(CONSUMER_REF, "succeeded"), (SECOND_REF, "conflict"), (THIRD_REF, "failed")]
    )


def test_choosing_nothing_that_changes_starts_nothing(agent, three_bookings):
    job = prepare(agent)

    with pytest.raises(Exception, match="Choose at least one record"):
        rectify.rectification_start(job=job, item_ids=[])
    job.refresh_from_db()
    assert job.status == Rectification.Status.DRAFT


def test_another_agent_cannot_open_a_correction(client, agent, another_agent, three_bookings):
    job = prepare(agent)
    client.force_login(another_agent)

    assert client.get(reverse("privacy:rectify", args=[job.pk])).status_code == 404


def test_the_pages_take_an_agent_from_the_consumer_to_the_results(
    agent_client, sandbox, three_bookings
):
    start = reverse("privacy:rectify_new") + f"?consumer={CONSUMER_REF}"
    page = agent_client.get(start)
    assert page.status_code == 200
    assert "Records found (3)" in page.content.decode()

    data = {**WANTED, "reason": "Passport shows Beirne"}
    preview = agent_client.post(start, data, follow=True)
    content = preview.content.decode()
    assert '<span class="diff-new">Beirne</span>' in content
    assert "(unchanged)" in content
    job = Rectification.objects.get()

    items = [str(pk) for pk in job.items.values_list("pk", flat=True)]
    started = agent_client.post(reverse("privacy:rectify_start", args=[job.pk]), {"items": items})
    assert started.status_code == 302
    run_worker()
    progress = agent_client.get(reverse("privacy:rectify_progress", args=[job.pk])).json()
    assert (progress["status"], progress["done"], progress["total"]) == ("finished", 3, 3)


def test_a_correction_without_a_reason_is_refused_with_the_input_kept(agent_client, three_bookings):
    start = reverse("privacy:rectify_new") + f"?consumer={CONSUMER_REF}"

    response = agent_client.post(start, {**WANTED, "reason": ""})

    assert response.status_code == 200
    assert "Say why the person is corrected" in response.content.decode()
    assert 'value="Beirne"' in response.content.decode()
    assert not Rectification.objects.exists()


def test_old_corrections_are_purged_with_the_cache(agent, three_bookings, settings):
    job = prepare(agent)
    Rectification.objects.filter(pk=job.pk).update(
        created_at=job.created_at - timedelta(days=settings.CACHE_RETENTION_DAYS + 1)
    )
    recent = prepare(agent)

    call_command("purge_corrections", stdout=io.StringIO())

    assert list(Rectification.objects.values_list("pk", flat=True)) == [recent.pk]
