"""An edit CDP cannot take now is queued, and every screen says so as safe: never as dropped."""

import pytest
from django.urls import reverse

from cdp_sandbox.server import Fault
from consumers.models import Push
from tests.conftest import CONSUMER_REF, run_worker

CONSUMER_PATH = f"/v2/orderConsumers/{CONSUMER_REF}"
DETAIL = reverse("consumers:detail", kwargs={"ref": CONSUMER_REF})
EDIT = reverse("consumers:edit", kwargs={"ref": CONSUMER_REF})


@pytest.fixture(autouse=True)
def quick_queue(settings):
    settings.PUSH_RETRY_DELAY = 0
    settings.PUSH_RETRY_DELAY_MAX = 0


def form_data(client, **changes):
    form = client.get(EDIT).context["form"]
    return {name: form[name].value() or "" for name in form.fields} | changes


def save_while_cdp_refuses_updates(client, sandbox, **changes):
    """Save an edit while CDP answers every update with 503 (reads still work)."""
    data = form_data(client, **changes)
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, status=503, times=None))
    return client.post(EDIT, data, follow=True)


def text(response) -> str:
    return response.content.decode()


def test_a_queued_edit_reads_as_safe_with_what_happens_next(agent_client, sandbox):
    response = save_while_cdp_refuses_updates(agent_client, sandbox, last_name="Beirne")

    content = text(response)
    queued = "CDP could not take it just now; your edit is queued and will be sent automatically"
    assert queued in content
    assert "next try at" in content
    assert "retry it now or cancel it" in content
    assert "HTTP 503 Service Unavailable" in content  # what CDP said, still shown
    assert "Gave up" not in content  # an edit that is queued was not given up on


def test_a_queued_edit_that_cdp_did_not_answer_says_so(agent_client, sandbox, settings):
    data = form_data(agent_client, last_name="Beirne")
    settings.CDP_TIMEOUT = 0.2
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, latency=0.5, times=None))

    content = text(agent_client.post(EDIT, data, follow=True))

    assert "CDP did not answer; your edit is queued and will be sent automatically" in content


def test_no_screen_shows_a_queued_edit_as_given_up(agent_client, client, supervisor, sandbox):
    save_while_cdp_refuses_updates(agent_client, sandbox, last_name="Beirne")
    client.force_login(supervisor)

    pages = {
        "consumer page": agent_client.get(DETAIL),
        "edit page": agent_client.get(EDIT),
        "queue": client.get(reverse("consumers:queue")),
    }

    for name, response in pages.items():
        content = text(response)
        assert "will be sent automatically" in content, name
        assert "Gave up" not in content, name
        assert "HTTP 503" in content, name


def test_an_edit_the_queue_gave_up_on_says_after_how_many_tries(agent_client, sandbox, settings):
    settings.PUSH_MAX_ATTEMPTS = 2
    save_while_cdp_refuses_updates(agent_client, sandbox, last_name="Beirne")

    run_worker()

    pushed = Push.objects.get()
    assert pushed.status == Push.Status.FAILED
    assert pushed.error.startswith("Not sent: the queue gave up after 2 tries.")
    content = text(agent_client.get(DETAIL))
    assert "Not sent: the queue gave up after 2 tries." in content


def test_every_page_says_when_cdp_takes_no_updates_though_it_answers_reads(agent_client, sandbox):
    assert "Updates to CDP are failing" not in text(agent_client.get(DETAIL))

    save_while_cdp_refuses_updates(agent_client, sandbox, last_name="Beirne")

    home = text(agent_client.get(reverse("consumers:home")))
    assert "Updates to CDP are failing" in home
    assert "1 edit is queued" in home
    assert "CDP is unavailable." not in home  # the breaker is closed: reads still work


def test_the_banner_goes_once_the_queue_has_delivered(agent_client, sandbox):
    save_while_cdp_refuses_updates(agent_client, sandbox, last_name="Beirne")
    sandbox.clear_faults()

    run_worker()

    assert Push.objects.get().status == Push.Status.SUCCEEDED
    assert "Updates to CDP are failing" not in text(agent_client.get(DETAIL))
