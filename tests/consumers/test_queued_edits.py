"""An edit CDP cannot take now is queued, and every screen says so as safe: never as dropped."""

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEntry
from cdp_sandbox.server import Fault
from consumers.models import Push
from tests.conftest import CONSUMER_REF, cdp_path, form_data, run_worker, update_method

# Run for each API version CDP speaks (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("api_version")

CONSUMER_PATH = cdp_path("orderConsumers", CONSUMER_REF)
DETAIL = reverse("consumers:detail", kwargs={"ref": CONSUMER_REF})
EDIT = reverse("consumers:edit", kwargs={"ref": CONSUMER_REF})


@pytest.fixture(autouse=True)
def quick_queue(settings):
    settings.PUSH_RETRY_DELAY = 0
    settings.PUSH_RETRY_DELAY_MAX = 0


def save_while_cdp_refuses_updates(client, sandbox, **changes):
    """Save an edit while CDP answers every update with 503 (reads still work)."""
    data = form_data(client, **changes)
    sandbox.inject(Fault(method=update_method(), path=CONSUMER_PATH, status=503, times=None))
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
    sandbox.inject(Fault(method=update_method(), path=CONSUMER_PATH, latency=0.5, times=None))

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


# --- the agent's own queued edits: retry now and cancel --------------------------------------


def queued_url(name: str, pushed: Push) -> str:
    return reverse(name, kwargs={"ref": pushed.consumer_ref, "push_id": pushed.pk})


def test_an_agent_retries_their_own_queued_edit_from_the_consumer_page(
    agent_client, sandbox, settings
):
    settings.PUSH_RETRY_DELAY = settings.PUSH_RETRY_DELAY_MAX = 3600
    save_while_cdp_refuses_updates(agent_client, sandbox, last_name="Beirne")
    pushed = Push.objects.get()
    sandbox.clear_faults()
    run_worker()
    assert Push.objects.get().status == Push.Status.PENDING  # its next try is an hour away

    page = text(agent_client.get(DETAIL))
    response = agent_client.post(queued_url("consumers:queued_retry", pushed), follow=True)
    run_worker()

    assert f'action="{queued_url("consumers:queued_retry", pushed)}"' in page
    assert "The worker will try it now." in text(response)
    assert response.redirect_chain[-1][0] == DETAIL
    assert Push.objects.get().status == Push.Status.SUCCEEDED
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Beirne"


def test_cancelling_a_queued_edit_first_shows_the_change_that_will_not_be_sent(
    agent_client, sandbox
):
    save_while_cdp_refuses_updates(agent_client, sandbox, last_name="Beirne")
    pushed = Push.objects.get()
    url = queued_url("consumers:queued_cancel", pushed)
    assert f'href="{url}"' in text(agent_client.get(DETAIL))

    confirm = agent_client.get(url)

    content = text(confirm)
    assert confirm.status_code == 200
    assert "will not be sent to CDP" in content
    assert '<span class="diff-new">Beirne</span>' in content
    assert f'<form method="post" action="{url}"' in content
    assert Push.objects.get().status == Push.Status.PENDING  # a GET changes nothing
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.CANCEL).exists()


def test_an_agent_cancels_their_own_queued_edit_and_it_is_never_sent(agent_client, sandbox):
    save_while_cdp_refuses_updates(agent_client, sandbox, last_name="Beirne")
    pushed = Push.objects.get()
    sandbox.clear_faults()

    response = agent_client.post(queued_url("consumers:queued_cancel", pushed), follow=True)
    run_worker()

    assert "Cancelled: the change will not be sent." in text(response)
    assert response.redirect_chain[-1][0] == DETAIL
    assert Push.objects.get().status == Push.Status.CANCELLED
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Byrne"
    [cancel] = AuditEntry.objects.filter(action=AuditEntry.Action.CANCEL)
    assert cancel.username == "agent"


def test_an_edit_no_longer_queued_cannot_be_cancelled_and_the_page_says_so(agent_client, sandbox):
    save_while_cdp_refuses_updates(agent_client, sandbox, last_name="Beirne")
    pushed = Push.objects.get()
    sandbox.clear_faults()
    run_worker()  # delivered

    confirm = text(agent_client.get(queued_url("consumers:queued_cancel", pushed)))
    cancelled = agent_client.post(queued_url("consumers:queued_cancel", pushed), follow=True)
    retried = agent_client.post(queued_url("consumers:queued_retry", pushed), follow=True)

    assert "It is no longer queued" in confirm
    assert '<form method="post"' not in confirm.partition('id="main"')[2].partition("</main>")[0]
    assert "It is no longer queued" in text(cancelled)
    assert "It is no longer queued" in text(retried)
    assert Push.objects.get().status == Push.Status.SUCCEEDED
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.CANCEL).exists()


def test_another_agent_can_neither_retry_nor_cancel_an_agents_queued_edit(
    agent_client, client, another_agent, sandbox
):
    save_while_cdp_refuses_updates(agent_client, sandbox, last_name="Beirne")
    pushed = Push.objects.get()
    client.force_login(another_agent)

    page = text(client.get(DETAIL))

    assert client.get(queued_url("consumers:queued_cancel", pushed)).status_code == 404
    assert client.post(queued_url("consumers:queued_cancel", pushed)).status_code == 404
    assert client.post(queued_url("consumers:queued_retry", pushed)).status_code == 404
    assert Push.objects.get().status == Push.Status.PENDING
    assert "Beirne" in page  # they see the change is on its way, by whom
    assert queued_url("consumers:queued_cancel", pushed) not in page
    assert queued_url("consumers:queued_retry", pushed) not in page


def test_a_supervisor_cancels_anyones_queued_edit_from_the_queue_and_returns_there(
    agent_client, client, supervisor, sandbox
):
    save_while_cdp_refuses_updates(agent_client, sandbox, last_name="Beirne")
    pushed = Push.objects.get()
    client.force_login(supervisor)
    queue = reverse("consumers:queue")
    cancel = queued_url("consumers:queued_cancel", pushed)

    listed = text(client.get(queue))
    confirm = text(client.get(cancel, {"next": queue}))
    response = client.post(cancel, {"next": queue}, follow=True)

    assert f'href="{cancel}?next={queue}"' in listed
    assert "Retry now" in listed
    assert f'name="next" value="{queue}"' in confirm
    assert response.redirect_chain[-1][0] == queue
    assert Push.objects.get().status == Push.Status.CANCELLED
    [entry] = AuditEntry.objects.filter(action=AuditEntry.Action.CANCEL)
    assert entry.username == "supervisor"


def test_a_cancel_returns_only_to_a_page_of_this_site(agent_client, sandbox):
    save_while_cdp_refuses_updates(agent_client, sandbox, last_name="Beirne")
    pushed = Push.objects.get()

    response = agent_client.post(
        queued_url("consumers:queued_cancel", pushed), {"next": "https://evil.example/"}
    )

    assert response["Location"] == DETAIL


def test_a_cancel_without_the_csrf_token_is_refused(agent, sandbox, agent_client):
    save_while_cdp_refuses_updates(agent_client, sandbox, last_name="Beirne")
    pushed = Push.objects.get()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(agent)

    assert strict.post(queued_url("consumers:queued_cancel", pushed)).status_code == 403
    assert Push.objects.get().status == Push.Status.PENDING


def test_a_queued_edit_says_when_cdp_is_paused_rather_than_silent(agent_client, sandbox, settings):
    settings.CDP_BREAKER_THRESHOLD = 1
    data = form_data(agent_client, last_name="Beirne")
    sandbox.inject(Fault(path=CONSUMER_PATH, status=503, times=None))
    agent_client.post(reverse("consumers:refresh", args=[CONSUMER_REF]))  # opens the breaker

    content = text(agent_client.post(EDIT, data, follow=True))

    assert "CDP is paused after failing again and again; your edit is queued" in content
    assert "Why: CDP is unavailable: 1 call in a row failed, so calls are paused until" in content


def test_every_screen_gives_the_same_next_try_as_the_message(agent_client, sandbox, settings):
    settings.PUSH_RETRY_DELAY = settings.PUSH_RETRY_DELAY_MAX = 3600  # probed long before
    response = save_while_cdp_refuses_updates(agent_client, sandbox, last_name="Beirne")
    pushed = Push.objects.get()
    when = f"next try at {pushed.next_try_at:%H:%M:%S} UTC"

    assert pushed.next_try_at is not None
    assert pushed.next_attempt_at is not None
    assert pushed.next_try_at < pushed.next_attempt_at
    assert text(response).count(when) == 2  # the message and the list
    edit_page = text(agent_client.get(EDIT))  # reads CDP, which answers: the edit is woken
    pushed.refresh_from_db()
    assert f"next try at {pushed.next_try_at:%H:%M:%S} UTC" in edit_page
