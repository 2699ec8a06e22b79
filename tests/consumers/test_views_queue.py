"""The supervisors' queue of edits not in CDP yet, with Retry now and Cancel."""

import pytest
from django.urls import reverse

from cdp_sandbox.server import Fault
from consumers.models import Push
from tests.conftest import CONSUMER_REF, cdp_path, edit_url, form_data, update_method

# Run for each API version CDP speaks (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("api_version")

CONSUMER_PATH = cdp_path("orderConsumers", CONSUMER_REF)


def test_supervisors_see_the_queue_and_can_retry_or_cancel(
    client, agent_client, supervisor, sandbox
):
    data = form_data(agent_client, last_name="Beirne")
    sandbox.inject(Fault(method=update_method(), path=CONSUMER_PATH, status=503, times=None))
    agent_client.post(edit_url(), data)
    queued = Push.objects.get()
    client.force_login(supervisor)

    queue = client.get(reverse("consumers:queue"))
    cancelled = client.post(
        reverse("consumers:queued_cancel", args=[CONSUMER_REF, queued.pk]), follow=True
    )

    assert '<span class="diff-new">Beirne</span>' in queue.content.decode()
    assert "Retry now" in queue.content.decode()
    assert "Cancelled: the change will not be sent." in cancelled.content.decode()
    queued.refresh_from_db()
    assert queued.status == Push.Status.CANCELLED
