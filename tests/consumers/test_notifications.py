"""An agent hears about their queued edit on the next page they open: landed, failed or in
conflict; a message once, and a badge until they mark it read."""

import pytest
from django.test import Client
from django.urls import reverse

from audit.services import RequestMeta
from cdp_sandbox.server import Fault
from consumers import pushes
from consumers.models import Notification, Push
from consumers.notifications import notification_create, notifications_for_page
from tests.conftest import CONSUMER_REF, run_worker

CONSUMER_PATH = f"/v2/orderConsumers/{CONSUMER_REF}"
EDIT = reverse("consumers:edit", kwargs={"ref": CONSUMER_REF})
HOME = reverse("consumers:home")


@pytest.fixture(autouse=True)
def quick_queue(settings):
    settings.PUSH_RETRY_DELAY = 0
    settings.PUSH_RETRY_DELAY_MAX = 0


def queue_an_edit(client: Client, sandbox, **changes) -> Push:
    form = client.get(EDIT).context["form"]
    data = {name: form[name].value() or "" for name in form.fields} | changes
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, status=503, times=None))
    client.post(EDIT, data)
    push = Push.objects.get()
    assert push.status == Push.Status.PENDING
    return push


def test_an_edit_that_lands_later_is_told_on_the_next_page_once(agent_client, sandbox):
    queue_an_edit(agent_client, sandbox, last_name="Beirne")
    sandbox.clear_faults()
    run_worker()

    first = agent_client.get(HOME).content.decode()
    second = agent_client.get(HOME).content.decode()

    assert "Your queued edit of Liam Byrne reached CDP." in first
    assert 'data-testid="notification-badge">1' in first
    assert "Your queued edit of Liam Byrne reached CDP." not in second  # the message is shown once
    assert 'data-testid="notification-badge">1' in second  # the badge stays until read


def test_an_edit_the_queue_gives_up_on_is_told_with_why(agent_client, sandbox, settings):
    settings.PUSH_MAX_ATTEMPTS = 2
    queue_an_edit(agent_client, sandbox, last_name="Beirne")
    run_worker()

    content = agent_client.get(HOME).content.decode()

    assert (
        "Your queued edit of Liam Byrne failed: Not sent: the queue gave up after 2 tries"
        in content
    )
    assert Notification.objects.get().level == Notification.Level.ERROR


def test_a_queued_edit_meeting_a_newer_version_points_at_the_conflict(agent_client, sandbox):
    push = queue_an_edit(agent_client, sandbox, last_name="Beirne")
    sandbox.clear_faults()
    sandbox.change_consumer(CONSUMER_REF, firstName="William")
    run_worker()

    notification = Notification.objects.get()
    assert "someone changed the consumer in CDP meanwhile" in notification.message
    assert notification.url == reverse("consumers:conflict", args=[CONSUMER_REF, push.pk])


def test_a_save_the_agent_watched_is_not_notified(agent_client, sandbox):
    form = agent_client.get(EDIT).context["form"]
    data = {name: form[name].value() or "" for name in form.fields} | {"last_name": "Beirne"}
    agent_client.post(EDIT, data)

    assert not Notification.objects.exists()


def test_a_supervisor_cancelling_an_agents_edit_tells_the_agent(agent_client, sandbox, supervisor):
    push = queue_an_edit(agent_client, sandbox, last_name="Beirne")

    pushes.push_cancel(push=push, user=supervisor, meta=RequestMeta())

    assert (
        "supervisor cancelled your queued edit of Liam Byrne" in Notification.objects.get().message
    )


def test_marking_read_empties_the_badge(agent_client, agent):
    notification_create(user=agent, message="Something happened.")
    assert 'data-testid="notification-badge">1' in agent_client.get(HOME).content.decode()

    response = agent_client.post(reverse("consumers:notifications_read"), follow=True)

    assert "Marked 1 notification read." in response.content.decode()
    assert "notification-badge" not in response.content.decode()
    listed = agent_client.get(reverse("consumers:notifications")).content.decode()
    assert "Something happened." in listed


def test_another_persons_notifications_are_not_shown(agent_client, another_agent):
    notification_create(user=another_agent, message="Only for the other agent.")

    assert "Only for the other agent." not in agent_client.get(HOME).content.decode()
    assert (
        "Only for the other agent."
        not in agent_client.get(reverse("consumers:notifications")).content.decode()
    )


def test_nobody_to_tell_writes_nothing():
    assert notification_create(user=None, message="lost") is None


def test_one_query_per_page_when_nothing_is_new(agent, django_assert_num_queries):
    notification_create(user=agent, message="Seen already.")
    notifications_for_page(user=agent)  # shown: marked so

    with django_assert_num_queries(1):
        page = notifications_for_page(user=agent)

    assert (page.unread, page.new) == (1, [])
