"""Every outcome of an agent's approval request reaches them as a notification, once each, and
never the approver: approved and sent, approved into a conflict, rejected, expired, and the queued
push that follows an approval once the queue settles it."""

import pytest
from django.urls import reverse
from django.utils import timezone

from approvals import services
from approvals.models import ApprovalRequest
from audit.services import RequestMeta
from cdp_sandbox.server import Fault
from consumers.models import Notification, OrderConsumer, Push
from tests.approvals.conftest import CONSUMER_PATH, OTHER_GUEST_REF, save
from tests.conftest import CONSUMER_REF, run_worker

META = RequestMeta(ip_address="192.0.2.9")


@pytest.fixture(autouse=True)
def quick_queue(settings):
    settings.PUSH_RETRY_DELAY = 0
    settings.PUSH_RETRY_DELAY_MAX = 0


def submitted(consumer, user) -> ApprovalRequest:
    saved = save(consumer, user, guest_ref=OTHER_GUEST_REF)
    assert saved.held is not None
    return ApprovalRequest.objects.get(pk=saved.held.pk)


def told(user) -> list[Notification]:
    """The approvals' notifications of `user`, oldest first."""
    return list(Notification.objects.filter(user=user, kind="approval").order_by("pk"))


def test_submitting_tells_nobody_yet(consumer, agent, supervisor, sandbox):
    submitted(consumer, agent)

    assert Notification.objects.count() == 0


def test_an_approval_sent_to_cdp_tells_the_agent_once_and_not_the_approver(
    consumer, agent, supervisor, sandbox
):
    request = submitted(consumer, agent)

    services.approval_approve(request=request, user=supervisor, meta=META)

    [notice] = told(agent)
    assert notice.message == (
        "Your change of Guest for Liam Byrne was approved by supervisor and saved to CDP."
    )
    assert notice.level == Notification.Level.SUCCESS
    assert notice.url == reverse("approvals:detail", kwargs={"pk": request.pk})
    assert Notification.objects.filter(user=supervisor).count() == 0


def test_an_approval_that_meets_a_conflict_tells_the_agent_nothing_was_sent(
    consumer, agent, supervisor, sandbox
):
    request = submitted(consumer, agent)
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")

    services.approval_approve(request=request, user=supervisor, meta=META)

    [notice] = told(agent)
    assert "was approved by supervisor, but CDP had changed since you saw it" in notice.message
    assert notice.level == Notification.Level.WARNING
    assert Notification.objects.filter(user=supervisor).count() == 0


def test_an_approval_that_could_send_nothing_tells_the_agent_why(
    consumer, agent, supervisor, sandbox
):
    request = submitted(consumer, agent)
    OrderConsumer.objects.filter(ref=CONSUMER_REF).delete()
    sandbox.inject(Fault(method="GET", path=CONSUMER_PATH, status=404, times=None))

    services.approval_approve(request=request, user=supervisor, meta=META)

    [notice] = told(agent)
    assert "was approved by supervisor, but nothing was sent to CDP: " in notice.message
    assert notice.level == Notification.Level.ERROR
    assert Notification.objects.filter(user=supervisor).count() == 0


def test_a_rejection_tells_the_agent_the_comment(consumer, agent, supervisor, sandbox):
    request = submitted(consumer, agent)

    services.approval_reject(
        request=request, user=supervisor, meta=META, comment="That is another family's profile."
    )

    [notice] = told(agent)
    assert notice.message == (
        "Your change of Guest for Liam Byrne was rejected by supervisor: "
        "That is another family's profile."
    )
    assert notice.level == Notification.Level.WARNING
    assert Notification.objects.filter(user=supervisor).count() == 0


def test_the_periodic_job_closing_an_expired_request_tells_the_agent(consumer, agent, sandbox):
    request = submitted(consumer, agent)
    ApprovalRequest.objects.filter(pk=request.pk).update(expires_at=timezone.now())

    services.approvals_expire()
    services.approvals_expire()

    [notice] = told(agent)
    assert "expired: nobody decided on it in time" in notice.message
    assert Notification.objects.count() == 1


def test_a_withdrawal_tells_nobody(consumer, agent, sandbox):
    request = submitted(consumer, agent)

    services.approval_withdraw(request=request, user=agent, meta=META)

    assert Notification.objects.count() == 0


def test_an_approval_queued_for_cdp_tells_the_agent_and_again_when_the_queue_gives_up(
    consumer, agent, supervisor, sandbox, settings
):
    settings.PUSH_MAX_ATTEMPTS = 2
    request = submitted(consumer, agent)
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, status=503, times=None))

    services.approval_approve(request=request, user=supervisor, meta=META)

    [queued] = told(agent)
    assert "was approved by supervisor and is queued for CDP." in queued.message
    assert queued.level == Notification.Level.INFO

    run_worker()

    assert Push.objects.get().status == Push.Status.FAILED
    queued_again, failed = told(agent)
    assert queued_again == queued
    assert "was approved by supervisor, but CDP did not save it: " in failed.message
    assert failed.level == Notification.Level.ERROR
    # The approver hears of the push they made as of any queued edit of theirs, and only that.
    assert told(supervisor) == []
    assert Notification.objects.filter(user=supervisor, kind="push").count() == 1


def test_a_queued_approval_that_lands_later_tells_the_agent_it_was_saved(
    consumer, agent, supervisor, sandbox
):
    request = submitted(consumer, agent)
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, status=503, times=None))
    services.approval_approve(request=request, user=supervisor, meta=META)
    sandbox.clear_faults()

    run_worker()

    assert [notice.level for notice in told(agent)] == ["info", "success"]
    assert told(agent)[-1].message.endswith("was approved by supervisor and saved to CDP.")


def test_an_edit_that_names_a_request_it_did_not_carry_tells_nobody(
    consumer, agent, another_agent, sandbox
):
    request = submitted(consumer, agent)
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, status=503, times=None))
    save(
        consumer,
        another_agent,
        reason=f"Approved request {request.pk} (asked by agent): x",
        last_name="Beirne",
    )

    sandbox.clear_faults()
    run_worker()

    assert Push.objects.get().status == Push.Status.SUCCEEDED
    assert told(agent) == []
