"""A revert asks first: it shows the exact values it will send, and an entry is reverted once."""

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from audit.services import RequestMeta
from cdp_sandbox.server import Fault
from consumers import pushes, services
from consumers.models import Push
from tests.conftest import CONSUMER_REF

META = RequestMeta(ip_address="203.0.113.9", user_agent="pytest", request_id="revert")
CONSUMER_PATH = f"/v2/orderConsumers/{CONSUMER_REF}"


def edit(user, **changes):
    consumer = services.consumer_fetch(ref=CONSUMER_REF)
    return pushes.consumer_push_update(
        consumer=consumer,
        data={**consumer.editable_values(), **changes},
        loaded_modified_at=consumer.cdp_modified_at,
        user=user,
        meta=META,
    )


@pytest.fixture
def supervisor_client(client, supervisor):
    client.force_login(supervisor)
    return client


def revert_url(entry) -> str:
    return reverse("consumers:revert", args=[entry.pk])


def detail(client, entry) -> str:
    return client.get(reverse("audit:detail", args=[entry.pk])).content.decode()


def test_the_revert_page_shows_field_by_field_what_it_will_send_and_changes_nothing(
    supervisor_client, agent, sandbox
):
    entry = edit(agent, last_name="Beirne", title="Dr").entry
    sandbox.requests.clear()

    response = supervisor_client.get(revert_url(entry))

    content = response.content.decode()
    assert response.status_code == 200
    rows = [(row["label"], row["now"], row["sends"]) for row in response.context["preview"].rows]
    assert rows == [("Title", "Dr", "Mr"), ("Last name", "Beirne", "Byrne")]
    assert '<span class="diff-old">Beirne</span> → <span class="diff-new">Byrne</span>' in content
    assert f'<form method="post" action="{revert_url(entry)}"' in content
    assert sandbox.requests_to("POST", CONSUMER_PATH) == []  # read from CDP, nothing sent
    assert sandbox.requests_to("GET", CONSUMER_PATH) != []
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.REVERT).exists()
    assert f'href="{revert_url(entry)}"' in detail(supervisor_client, entry)


def test_the_preview_refuses_when_a_field_changed_since(supervisor_client, agent, sandbox):
    entry = edit(agent, last_name="Beirne").entry
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")

    content = supervisor_client.get(revert_url(entry)).content.decode()

    assert "Last name was changed again since this change" in content
    assert "Byrne-Walsh" in content
    assert '<form method="post"' not in content.partition('id="main"')[2]


def test_the_preview_says_when_cdp_cannot_be_read(supervisor_client, agent, sandbox):
    entry = edit(agent, last_name="Beirne").entry
    sandbox.inject(Fault(method="GET", path=CONSUMER_PATH, status=503, times=None))

    response = supervisor_client.get(revert_url(entry))

    assert response.status_code == 200
    assert "CDP could not be read" in response.content.decode()
    assert '<form method="post"' not in response.content.decode().partition('id="main"')[2]


def test_a_reverted_change_no_longer_offers_revert_and_a_second_revert_is_refused(
    supervisor_client, agent, sandbox
):
    entry = edit(agent, last_name="Beirne").entry
    supervisor_client.post(revert_url(entry))
    [revert] = AuditEntry.objects.filter(action=AuditEntry.Action.REVERT)
    sandbox.requests.clear()

    page = detail(supervisor_client, entry)
    preview = supervisor_client.get(revert_url(entry)).content.decode()
    again = supervisor_client.post(revert_url(entry), follow=True).content.decode()

    assert f'href="{revert_url(entry)}"' not in page
    assert f"Already reverted, by audit entry {revert.sequence}." in page
    assert f"Already reverted, by audit entry {revert.sequence}." in preview
    assert f"Not reverted. Already reverted, by audit entry {revert.sequence}." in again
    assert AuditEntry.objects.filter(action=AuditEntry.Action.REVERT).count() == 1
    assert sandbox.requests_to("POST", CONSUMER_PATH) == []
    with pytest.raises(pushes.RevertRefused):
        pushes.consumer_revert(entry=entry, user=agent, meta=META)


def test_a_revert_still_queued_is_not_made_twice(supervisor_client, agent, sandbox, settings):
    settings.PUSH_RETRY_DELAY = settings.PUSH_RETRY_DELAY_MAX = 3600
    entry = edit(agent, last_name="Beirne").entry
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, status=503, times=None))
    supervisor_client.post(revert_url(entry))
    assert Push.objects.get(reverts_id=entry.pk).status == Push.Status.PENDING

    again = supervisor_client.post(revert_url(entry), follow=True).content.decode()

    assert "Not reverted. A revert of this change is already queued for CDP" in again
    assert Push.objects.filter(reverts_id=entry.pk).count() == 1
