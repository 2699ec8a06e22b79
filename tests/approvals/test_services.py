"""Every step of a four-eyes approval, and every refusal, against the sandbox over real HTTP."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from approvals import services
from approvals.models import ApprovalPolicy, ApprovalRequest
from approvals.services import ApprovalRefused
from audit.contexts import entry_context
from audit.models import AuditEntry
from audit.services import RequestMeta
from cdp.links import ref_from_link
from consumers.models import OrderConsumer, Push
from consumers.pushes import Outcome
from dashboard.services import dashboard_figures
from tests.approvals.conftest import OTHER_GUEST_REF, save, updates_sent
from tests.conftest import CONSUMER_REF, GUEST_REF, run_worker

META = RequestMeta(ip_address="192.0.2.9")


def guest_in_cdp(sandbox) -> str:
    return ref_from_link(sandbox.consumer(CONSUMER_REF).get("guest")) or ""


def steps(request):
    """The audit entries naming the request, oldest first, as (action, username)."""
    # The entry of the push that follows names the request in its reason, which is encrypted
    # as personal data (audit.personal), so it is found by the link the request keeps.
    request.refresh_from_db()
    linked = Q(pk__in=[request.submitted_entry_id, request.decided_entry_id, request.push_entry_id])
    entries = AuditEntry.objects.filter(linked | Q(reason__contains=f"request {request.pk}"))
    return [(entry.action, entry.username) for entry in entries.order_by("sequence")]


def submitted(consumer, user, **changes):
    saved = save(consumer, user, **changes)
    assert saved.held is not None
    return ApprovalRequest.objects.get(pk=saved.held.pk)


# --- submitting ---------------------------------------------------------------------------------


def test_a_guest_relink_waits_for_approval_and_nothing_goes_to_cdp(consumer, agent, sandbox):
    sandbox.requests.clear()

    saved = save(consumer, agent, guest_ref=OTHER_GUEST_REF)

    assert saved.sent.outcome == Outcome.UNCHANGED
    assert updates_sent(sandbox) == []
    assert guest_in_cdp(sandbox) == GUEST_REF
    request = ApprovalRequest.objects.get()
    assert request.status == ApprovalRequest.Status.WAITING
    assert request.changes == {"guest_ref": [GUEST_REF, OTHER_GUEST_REF]}
    assert request.base_values == consumer.editable_values()
    assert request.base_modified_at == consumer.cdp_modified_at
    assert request.held_because == {"guest_ref": "changing the guest needs approval"}
    assert request.policy == {
        "version": 1,
        "fields": ["guest_ref", "order_item_refs"],
        "group": "",
        "expiry_hours": 24,
        "supervisors_exempt": False,
    }
    assert request.expires_at == request.created_at + timedelta(hours=24)
    assert request.submitted_entry_id is not None
    entry = AuditEntry.objects.get(pk=request.submitted_entry_id)
    assert (entry.action, entry.username, entry.outcome) == (
        "approval_submitted",
        "agent",
        "succeeded",
    )
    assert entry.reason_text == f"Approval request {request.pk}: The customer called to say so."
    assert [(c.field, c.old_text, c.new_text) for c in entry.changes.all()] == [
        ("guest_ref", GUEST_REF, OTHER_GUEST_REF)
    ]
    assert entry.ip_address == "192.0.2.7"


def test_a_save_is_split_the_name_goes_to_cdp_and_the_guest_waits(consumer, agent, sandbox):
    saved = save(consumer, agent, last_name="Beirne", guest_ref=OTHER_GUEST_REF)

    assert saved.sent.outcome == Outcome.SUCCEEDED
    assert saved.sent_fields == ["last_name"]
    assert saved.held_reasons == {"guest_ref": "changing the guest needs approval"}
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Beirne"
    assert guest_in_cdp(sandbox) == GUEST_REF
    request = ApprovalRequest.objects.get()
    # Against the version the name's save left in CDP: the agent's own change is no conflict.
    assert request.base_values["last_name"] == "Beirne"
    cached = OrderConsumer.objects.get(ref=CONSUMER_REF)
    assert request.base_modified_at == cached.cdp_modified_at


def test_a_held_change_needs_a_reason_and_then_nothing_is_sent_or_held(consumer, agent, sandbox):
    with pytest.raises(ValidationError) as caught:
        save(consumer, agent, reason="  ", last_name="Beirne", guest_ref=OTHER_GUEST_REF)

    assert "Guest needs a supervisor's approval" in caught.value.message_dict["reason"][0]
    assert updates_sent(sandbox) == []
    assert not ApprovalRequest.objects.exists()


def test_a_guest_cdp_does_not_have_is_refused_before_anything_is_sent_or_held(
    consumer, agent, sandbox
):
    with pytest.raises(ValidationError) as caught:
        save(consumer, agent, last_name="Beirne", guest_ref="00000000-0000-0000-0000-000000000000")

    assert "CDP has no guest" in caught.value.message_dict["guest_ref"][0]
    assert updates_sent(sandbox) == []
    assert not ApprovalRequest.objects.exists()


def test_a_change_the_policy_does_not_cover_goes_straight_to_cdp(consumer, agent, sandbox):
    saved = save(consumer, agent, last_name="Beirne")

    assert saved.held is None
    assert saved.sent.outcome == Outcome.SUCCEEDED
    assert not ApprovalRequest.objects.exists()


def test_a_supervisors_own_change_waits_too_unless_the_policy_exempts_them(
    consumer, supervisor, sandbox
):
    assert save(consumer, supervisor, guest_ref=OTHER_GUEST_REF).held is not None

    ApprovalPolicy.objects.filter(pk=1).update(supervisors_exempt=True)
    consumer.refresh_from_db()
    saved = save(consumer, supervisor, order_item_refs=consumer.order_item_refs[:1])

    assert saved.held is None
    assert saved.sent.outcome == Outcome.SUCCEEDED


def test_every_change_by_a_member_of_the_policys_group_waits(consumer, agent, sandbox):
    trainees = Group.objects.create(name="Trainees")
    agent.groups.add(trainees)
    ApprovalPolicy.objects.update_or_create(pk=1, defaults={"group": trainees, "fields": []})

    saved = save(consumer, agent, last_name="Beirne")

    assert saved.held is not None
    assert updates_sent(sandbox) == []
    request = ApprovalRequest.objects.get()
    assert request.held_because == {
        "last_name": "every change by members of Trainees needs approval"
    }


# --- withdrawing --------------------------------------------------------------------------------


def test_the_agent_withdraws_their_request_and_it_is_audited(consumer, agent, sandbox):
    request = submitted(consumer, agent, guest_ref=OTHER_GUEST_REF)

    entry = services.approval_withdraw(request=request, user=agent, meta=META)

    request.refresh_from_db()
    assert request.status == ApprovalRequest.Status.WITHDRAWN
    assert request.decided_entry_id == entry.pk
    assert steps(request) == [("approval_submitted", "agent"), ("approval_withdrawn", "agent")]
    assert updates_sent(sandbox) == []


def test_nobody_else_withdraws_an_agents_request(consumer, agent, supervisor, sandbox):
    request = submitted(consumer, agent, guest_ref=OTHER_GUEST_REF)

    with pytest.raises(ApprovalRefused, match="Only the person who asked"):
        services.approval_withdraw(request=request, user=supervisor, meta=META)

    request.refresh_from_db()
    assert request.status == ApprovalRequest.Status.WAITING


# --- approving ----------------------------------------------------------------------------------


def test_a_supervisor_approves_and_cdp_gets_the_change_through_the_edits_path(
    consumer, agent, supervisor, sandbox
):
    request = submitted(consumer, agent, guest_ref=OTHER_GUEST_REF)

    done = services.approval_approve(request=request, user=supervisor, meta=META)

    assert done.result is not None
    assert done.result.outcome == Outcome.SUCCEEDED
    assert sandbox.consumer(CONSUMER_REF)["guest"] == {
        "href": f"{sandbox.base_url}/v2/guests/{OTHER_GUEST_REF}"
    }
    # The whole record on v2: what the form does not show survives.
    assert sandbox.consumer(CONSUMER_REF)["emails"] == ["liam.byrne@example.com"]
    request.refresh_from_db()
    assert request.status == ApprovalRequest.Status.APPROVED
    assert request.decided_by == supervisor
    push = Push.objects.get(pk=request.push_id)
    assert (push.status, push.user) == (Push.Status.SUCCEEDED, supervisor)
    assert steps(request) == [
        ("approval_submitted", "agent"),
        ("approval_approved", "supervisor"),
        ("edit", "supervisor"),
    ]
    edit = AuditEntry.objects.get(pk=request.push_entry_id)
    assert (edit.action, edit.outcome) == ("edit", "succeeded")
    assert edit.reason_text.startswith(f"Approved request {request.pk} (asked by agent): ")
    assert OrderConsumer.objects.get(ref=CONSUMER_REF).guest_name == "Aoife Byrne"


def test_nobody_approves_their_own_request(consumer, supervisor, second_supervisor, sandbox):
    request = submitted(consumer, supervisor, guest_ref=OTHER_GUEST_REF)

    with pytest.raises(ApprovalRefused, match="You asked for this change yourself"):
        services.approval_approve(request=request, user=supervisor, meta=META)
    with pytest.raises(ApprovalRefused, match="You asked for this change yourself"):
        services.approval_reject(request=request, user=supervisor, meta=META, comment="No.")

    request.refresh_from_db()
    assert request.status == ApprovalRequest.Status.WAITING
    assert updates_sent(sandbox) == []
    services.approval_approve(request=request, user=second_supervisor, meta=META)
    assert guest_in_cdp(sandbox) == OTHER_GUEST_REF


def test_an_agent_may_not_approve(consumer, agent, another_agent, sandbox):
    request = submitted(consumer, agent, guest_ref=OTHER_GUEST_REF)

    with pytest.raises(ApprovalRefused, match="Only a supervisor"):
        services.approval_approve(request=request, user=another_agent, meta=META)


def test_an_approval_is_sent_once_a_second_approval_is_refused(
    consumer, agent, supervisor, second_supervisor, sandbox
):
    request = submitted(consumer, agent, guest_ref=OTHER_GUEST_REF)
    stale_copy = ApprovalRequest.objects.get(pk=request.pk)
    services.approval_approve(request=request, user=supervisor, meta=META)

    with pytest.raises(ApprovalRefused, match="already approved by supervisor"):
        services.approval_approve(request=stale_copy, user=second_supervisor, meta=META)

    assert len(updates_sent(sandbox)) == 1
    assert Push.objects.count() == 1


def test_a_conflict_at_approval_is_shown_not_applied(consumer, agent, supervisor, sandbox):
    request = submitted(consumer, agent, guest_ref=OTHER_GUEST_REF)
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")
    sandbox.requests.clear()

    page = services.approval_page(request=request)
    assert page.changed_since
    assert next(row for row in page.rows if row["field"] == "last_name")["moved"]
    done = services.approval_approve(request=request, user=supervisor, meta=META)

    assert done.result is not None
    assert done.result.outcome == Outcome.CONFLICT
    assert updates_sent(sandbox) == []
    assert guest_in_cdp(sandbox) == GUEST_REF
    push = Push.objects.get(pk=request.push_id)
    assert push.status == Push.Status.CONFLICT
    assert push.cdp_values["last_name"] == "Byrne-Walsh"
    assert steps(request)[-1] == ("edit", "supervisor")
    assert AuditEntry.objects.get(pk=request.push_entry_id).outcome == "conflict"
    assert "CDP had changed since you saw it" in services.outcome_text(request, push)


def test_a_guest_gone_from_cdp_by_approval_time_is_refused_and_the_request_waits(
    consumer, agent, supervisor, sandbox
):
    request = submitted(consumer, agent, guest_ref=OTHER_GUEST_REF)
    del sandbox.data.guests[OTHER_GUEST_REF]

    with pytest.raises(ValidationError):
        services.approval_approve(request=request, user=supervisor, meta=META)

    request.refresh_from_db()
    assert request.status == ApprovalRequest.Status.WAITING
    assert updates_sent(sandbox) == []


# --- rejecting ----------------------------------------------------------------------------------


def test_a_rejection_needs_a_comment(consumer, agent, supervisor, sandbox):
    request = submitted(consumer, agent, guest_ref=OTHER_GUEST_REF)

    with pytest.raises(ValidationError) as caught:
        services.approval_reject(request=request, user=supervisor, meta=META, comment=" ")

    assert "comment" in caught.value.message_dict
    request.refresh_from_db()
    assert request.status == ApprovalRequest.Status.WAITING


def test_a_rejected_request_sends_nothing_tells_the_agent_why_and_cannot_be_approved(
    consumer, agent, supervisor, second_supervisor, sandbox
):
    request = submitted(consumer, agent, guest_ref=OTHER_GUEST_REF)

    services.approval_reject(
        request=request, user=supervisor, meta=META, comment="That is another family's profile."
    )

    request.refresh_from_db()
    assert request.status == ApprovalRequest.Status.REJECTED
    assert steps(request) == [("approval_submitted", "agent"), ("approval_rejected", "supervisor")]
    assert services.outcome_text(request) == (
        "Your change of Guest for Liam Byrne was rejected by supervisor: "
        "That is another family's profile."
    )
    assert services.approvals_unseen_outcomes(user=agent) == 1
    with pytest.raises(ApprovalRefused, match="already rejected"):
        services.approval_approve(request=request, user=second_supervisor, meta=META)
    assert updates_sent(sandbox) == []


# --- expiring -----------------------------------------------------------------------------------


def test_an_expired_request_cannot_be_approved_and_is_closed_when_tried(
    consumer, agent, supervisor, sandbox
):
    request = submitted(consumer, agent, guest_ref=OTHER_GUEST_REF)
    ApprovalRequest.objects.filter(pk=request.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    request.refresh_from_db()

    with pytest.raises(ApprovalRefused, match="expired"):
        services.approval_approve(request=request, user=supervisor, meta=META)

    request.refresh_from_db()
    assert request.status == ApprovalRequest.Status.EXPIRED
    assert steps(request) == [("approval_submitted", "agent"), ("approval_expired", "(expiry)")]
    assert updates_sent(sandbox) == []


def test_the_periodic_job_closes_the_requests_past_their_expiry_only(consumer, agent, sandbox):
    due = submitted(consumer, agent, guest_ref=OTHER_GUEST_REF)
    fresh = submitted(consumer, agent, order_item_refs=consumer.order_item_refs[:1])
    ApprovalRequest.objects.filter(pk=due.pk).update(expires_at=timezone.now())

    assert services.approvals_expire() == 1
    assert services.approvals_expire() == 0

    due.refresh_from_db()
    fresh.refresh_from_db()
    assert (due.status, fresh.status) == ("expired", "waiting")
    assert "expired" in services.outcome_text(due)


def test_the_worker_closes_a_request_at_its_expiry(consumer, agent, sandbox):
    ApprovalPolicy.objects.update_or_create(pk=1, defaults={"expiry_hours": 0})
    request = submitted(consumer, agent, guest_ref=OTHER_GUEST_REF)

    run_worker()

    request.refresh_from_db()
    assert request.status == ApprovalRequest.Status.EXPIRED


# --- the policy changes while a request waits -----------------------------------------------------


def test_a_request_keeps_the_policy_it_was_made_under_and_says_so(
    consumer, agent, supervisor, sandbox
):
    request = submitted(consumer, agent, guest_ref=OTHER_GUEST_REF)
    expires_at = request.expires_at
    policy = services.approval_policy_get()
    policy.fields, policy.expiry_hours = [], 1
    services.approval_policy_save(policy=policy, user=supervisor, meta=META)

    request.refresh_from_db()
    page = services.approval_page(request=request)

    assert request.status == ApprovalRequest.Status.WAITING
    assert request.expires_at == expires_at
    assert request.policy["version"] == 1
    assert request.policy["fields"] == [
        "guest_ref",
        "order_item_refs",
    ]
    assert request.policy_text.startswith(
        "Changes to Guest, Order items need a supervisor's approval"
    )
    assert page.policy_now == "Nothing needs approval."
    # Still a four-eyes decision: the new policy does not wave it through or drop it.
    done = services.approval_approve(request=request, user=supervisor, meta=META)
    assert done.result is not None
    assert done.result.outcome == Outcome.SUCCEEDED
    change = AuditEntry.objects.get(action=AuditEntry.Action.APPROVAL_POLICY)
    assert {c.field: (c.old_value, c.new_value) for c in change.changes.all()} == {
        "fields": ("Guest, Order items", ""),
        "expiry_hours": ("24", "1"),
    }


# --- links between the request and its audit entries ----------------------------------------


def test_each_audit_entry_of_a_request_links_to_it(consumer, agent, supervisor, sandbox):
    request = submitted(consumer, agent, guest_ref=OTHER_GUEST_REF)
    services.approval_approve(request=request, user=supervisor, meta=META)
    request.refresh_from_db()

    for entry_id in (request.submitted_entry_id, request.decided_entry_id, request.push_entry_id):
        context = entry_context(AuditEntry.objects.get(pk=entry_id))
        assert context["approval_request_id"] == request.pk
    other = save(consumer, agent, last_name="Beirne").sent.entry
    assert other is not None
    assert "approval_request_id" not in entry_context(other)


def test_an_approval_a_crash_left_unsent_is_sent_by_the_periodic_job(
    consumer, agent, supervisor, sandbox, settings
):
    request = submitted(consumer, agent, guest_ref=OTHER_GUEST_REF)
    # The decision was recorded, and the process died before the push began.
    long_ago = timezone.now() - timedelta(seconds=settings.PUSH_LOCK_SECONDS * 3)
    ApprovalRequest.objects.filter(pk=request.pk).update(
        status=ApprovalRequest.Status.APPROVING, decided_by=supervisor, decided_at=long_ago
    )

    assert services.approvals_resume_stuck() == 1

    request.refresh_from_db()
    assert request.status == ApprovalRequest.Status.APPROVED
    assert guest_in_cdp(sandbox) == OTHER_GUEST_REF
    assert services.approvals_resume_stuck() == 0


# --- the dashboard ------------------------------------------------------------------------------


def test_the_dashboard_counts_requests_waiting_and_the_median_time_to_a_decision(
    consumer, agent, supervisor, sandbox
):
    quick, slow, waiting = (
        submitted(consumer, agent, guest_ref=OTHER_GUEST_REF),
        submitted(consumer, agent, order_item_refs=consumer.order_item_refs[:1]),
        submitted(consumer, agent, guest_ref=OTHER_GUEST_REF),
    )
    services.approval_reject(request=quick, user=supervisor, meta=META, comment="No.")
    services.approval_reject(request=slow, user=supervisor, meta=META, comment="No.")
    now = timezone.now()
    ApprovalRequest.objects.filter(pk__in=[quick.pk, slow.pk]).update(decided_at=now)
    ApprovalRequest.objects.filter(pk=quick.pk).update(created_at=now - timedelta(minutes=10))
    ApprovalRequest.objects.filter(pk=slow.pk).update(created_at=now - timedelta(hours=3))
    # Withdrawn and expired requests were never decided by a supervisor: not in the median.
    services.approval_withdraw(request=waiting, user=agent, meta=META)
    submitted(consumer, agent, guest_ref=OTHER_GUEST_REF)

    figures = dashboard_figures(date_from=now.date(), date_to=now.date()).approvals

    assert figures["waiting"] == 1
    assert figures["decided"] == 2
    assert figures["median_text"] == "1 h 35 min"


def test_an_expired_request_cannot_be_withdrawn_and_stays_closed(consumer, agent, sandbox):
    request = submitted(consumer, agent, guest_ref=OTHER_GUEST_REF)
    ApprovalRequest.objects.filter(pk=request.pk).update(expires_at=timezone.now())
    request.refresh_from_db()

    with pytest.raises(ApprovalRefused, match="expired"):
        services.approval_withdraw(request=request, user=agent, meta=META)

    request.refresh_from_db()
    assert request.status == ApprovalRequest.Status.EXPIRED
    assert steps(request)[-1] == ("approval_expired", "(expiry)")
