"""The agent's pages: sign-in and roles enforced, lookups, the edit form and every save outcome."""

import base64
import re
import time

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from cdp.models import CDPConnection
from cdp_sandbox.server import Fault
from consumers.models import OrderConsumer, Push
from tests.conftest import CONSUMER_REF, ORDER_REF

CONSUMER_PATH = f"/v2/orderConsumers/{CONSUMER_REF}"
PAGES = [
    ("consumers:home", {}),
    ("consumers:order", {"ref": ORDER_REF}),
    ("consumers:detail", {"ref": CONSUMER_REF}),
    ("consumers:edit", {"ref": CONSUMER_REF}),
]


def edit_url(ref=CONSUMER_REF):
    return reverse("consumers:edit", kwargs={"ref": ref})


def form_data(client, **changes):
    """Return the edit form's data as the page rendered it, with some fields changed."""
    form = client.get(edit_url()).context["form"]
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(changes)
    return data


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_a_signed_out_visitor_is_sent_to_sign_in(client, db, name, kwargs):
    url = reverse(name, kwargs=kwargs)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_a_user_without_a_role_is_refused(client, outsider, name, kwargs, sandbox):
    client.force_login(outsider)

    response = client.get(reverse(name, kwargs=kwargs))

    assert response.status_code == 403
    assert b"not allowed" in response.content
    assert list(sandbox.requests) == []


def test_a_user_without_a_role_cannot_post_an_edit(client, outsider, sandbox):
    client.force_login(outsider)

    response = client.post(edit_url(), {"first_name": "X", "last_name": "Y"})

    assert response.status_code == 403
    assert sandbox.requests_to("POST", CONSUMER_PATH) == []


def test_the_home_page_finds_cached_consumers_by_name(agent_client):
    agent_client.get(reverse("consumers:order", kwargs={"ref": ORDER_REF}))

    response = agent_client.get(reverse("consumers:home"), {"kind": "name", "q": "aoife"})

    assert response.status_code == 200
    assert [c.first_name for c in response.context["results"]] == ["Aoife"]
    assert b"Aoife" in response.content


def test_the_home_page_goes_straight_to_a_consumer_by_ref(agent_client):
    response = agent_client.get(
        reverse("consumers:home"), {"kind": "consumer", "q": f" {CONSUMER_REF} "}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("consumers:detail", kwargs={"ref": CONSUMER_REF})


def test_the_home_page_goes_to_an_order_by_booking_reference(agent_client):
    response = agent_client.get(reverse("consumers:home"), {"kind": "order", "q": "B94TXY-1"})

    assert response.status_code == 302
    assert response["Location"] == reverse("consumers:order", kwargs={"ref": ORDER_REF})


def test_the_home_page_says_when_no_order_matches(agent_client):
    response = agent_client.get(reverse("consumers:home"), {"kind": "order", "q": "NOPE-1"})

    assert response.status_code == 200
    assert "CDP has no order with the ref or booking reference NOPE-1." in response.content.decode()


def test_the_home_page_explains_a_malformed_consumer_ref(agent_client):
    response = agent_client.get(reverse("consumers:home"), {"kind": "consumer", "q": "smith"})

    assert response.status_code == 200
    assert "is not a CDP ref" in response.content.decode()


def test_the_home_page_offers_the_sandboxs_demo_orders(agent_client, settings):
    settings.CDP_DEMO_ORDER_REFS = [ORDER_REF]

    response = agent_client.get(reverse("consumers:home"))

    assert reverse("consumers:order", kwargs={"ref": ORDER_REF}) in response.content.decode()


def test_the_order_page_lists_its_consumers(agent_client):
    response = agent_client.get(reverse("consumers:order", kwargs={"ref": ORDER_REF}))

    content = response.content.decode()
    assert response.status_code == 200
    assert "B94TXY-1" in content
    assert "CONFIRMED" in content
    assert "Mr Liam Byrne" in content
    assert "Mrs Aoife Byrne" in content
    assert "Miss Saoirse Byrne" in content


def test_the_order_page_shows_a_clear_404_for_an_unknown_order(agent_client):
    response = agent_client.get(
        reverse("consumers:order", kwargs={"ref": "00000000-0000-0000-0000-000000000000"})
    )

    assert response.status_code == 404
    assert "No order found" in response.content.decode()


def test_the_consumer_page_shows_the_record_its_guest_its_order_and_when_it_was_fetched(
    agent_client,
):
    response = agent_client.get(reverse("consumers:detail", kwargs={"ref": CONSUMER_REF}))

    content = response.content.decode()
    assert response.status_code == 200
    assert "Mr Liam Byrne" in content
    assert "B94TXY-1" in content
    assert "CONFIRMED" in content
    assert "liam.byrne@example.com" in content
    assert "Fetched from CDP" in content
    assert OrderConsumer.objects.get(ref=CONSUMER_REF).guest_name in content


def test_the_consumer_page_masks_the_passport_number(agent_client, sandbox):
    passport = sandbox.consumer(CONSUMER_REF)["passportNumber"]

    content = agent_client.get(
        reverse("consumers:detail", kwargs={"ref": CONSUMER_REF})
    ).content.decode()

    assert passport not in content
    assert passport[-3:] in content


def test_the_consumer_page_explains_when_cdp_is_down(agent_client, sandbox):
    sandbox.inject(Fault(path=CONSUMER_PATH, status=503, times=None))

    response = agent_client.get(reverse("consumers:detail", kwargs={"ref": CONSUMER_REF}))

    assert response.status_code == 503
    assert "CDP is unavailable (HTTP 503 Service Unavailable)" in response.content.decode()


def test_refresh_fetches_the_current_version_from_cdp(agent_client, sandbox):
    agent_client.get(reverse("consumers:detail", kwargs={"ref": CONSUMER_REF}))
    sandbox.change_consumer(CONSUMER_REF, firstName="William")

    response = agent_client.post(
        reverse("consumers:refresh", kwargs={"ref": CONSUMER_REF}), follow=True
    )

    assert "Fetched the current version from CDP." in response.content.decode()
    assert OrderConsumer.objects.get(ref=CONSUMER_REF).first_name == "William"


def test_refresh_is_refused_on_get(agent_client):
    assert (
        agent_client.get(reverse("consumers:refresh", kwargs={"ref": CONSUMER_REF})).status_code
        == 405
    )


def test_the_edit_page_starts_from_cdps_current_version(agent_client, sandbox):
    agent_client.get(reverse("consumers:detail", kwargs={"ref": CONSUMER_REF}))
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")

    response = agent_client.get(edit_url())

    assert response.context["form"]["last_name"].value() == "Byrne-Walsh"
    main = response.content.decode().partition('<main id="main"')[2]
    labels = re.findall(r"<label[^>]*>\s*([^<]+?)\s*<", main)
    assert labels[:6] == ["Title", "First name", "Last name", "Gender", "Guest", "Order items"]
    assert ">Save</button>" in response.content.decode()


def test_saving_an_edit_sends_it_to_cdp_and_shows_the_new_name_and_the_audit_entry(
    agent_client, sandbox
):
    response = agent_client.post(
        edit_url(), form_data(agent_client, last_name="Beirne"), follow=True
    )

    content = response.content.decode()
    assert response.redirect_chain == [
        (reverse("consumers:detail", kwargs={"ref": CONSUMER_REF}), 302)
    ]
    assert "Saved Liam Beirne to CDP." in content
    assert sandbox.consumer(CONSUMER_REF)["lastName"] == "Beirne"
    assert '<span class="diff-old">Byrne</span> → <span class="diff-new">Beirne</span>' in content
    entry = AuditEntry.objects.get(action=AuditEntry.Action.EDIT)
    assert entry.user_agent == ""
    assert entry.ip_address == "127.0.0.1"
    assert len(entry.request_id) == 32


def test_saving_without_changes_sends_nothing_and_says_so(agent_client, sandbox):
    data = form_data(agent_client)

    response = agent_client.post(edit_url(), data, follow=True)

    assert "Nothing was changed, so nothing was sent to CDP." in response.content.decode()
    assert sandbox.requests_to("POST", CONSUMER_PATH) == []


def test_a_form_error_sends_nothing_and_keeps_the_agents_input(agent_client, sandbox):
    data = form_data(agent_client, first_name="", last_name="Beirne", guest_ref="not-a-ref")
    sandbox.requests.clear()

    response = agent_client.post(edit_url(), data)

    content = response.content.decode()
    assert response.status_code == 200
    assert "Enter a first name: CDP requires one." in content
    assert "not-a-ref is not a CDP ref" in content
    assert 'value="Beirne"' in content
    assert list(sandbox.requests) == []
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.EDIT).exists()


def test_cdps_refusal_is_shown_with_the_agents_input_kept(agent_client, sandbox):
    data = form_data(agent_client, last_name="Byrne-" + "x" * 30)
    sandbox.config.max_string_length = 20

    response = agent_client.post(edit_url(), data)

    content = response.content.decode()
    assert response.status_code == 200
    assert "CDP did not save the change." in content
    assert "lastName: size must be between 0 and 20." in content
    assert f'value="Byrne-{"x" * 30}"' in content
    assert (
        AuditEntry.objects.get(action=AuditEntry.Action.EDIT).outcome == AuditEntry.Outcome.FAILED
    )


def test_a_timeout_queues_the_change_and_the_consumer_page_shows_it(
    agent_client, sandbox, settings
):
    data = form_data(agent_client, last_name="Beirne")
    settings.CDP_TIMEOUT = 0.2
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, status=503, times=None))

    response = agent_client.post(edit_url(), data, follow=True)

    content = response.content.decode()
    assert "your edit is queued and will be sent automatically" in content
    assert "Changes not in CDP yet" in content
    assert '<span class="diff-new">Beirne</span>' in content
    assert OrderConsumer.objects.get(ref=CONSUMER_REF).last_name == "Byrne"
    assert Push.objects.get().status == Push.Status.PENDING
    assert response.context["sync_state"] == "pending"
    order = agent_client.get(reverse("consumers:order", kwargs={"ref": ORDER_REF}))
    states = {consumer.ref: state for consumer, state in order.context["consumers"]}
    assert states.pop(CONSUMER_REF) == "pending"
    assert set(states.values()) == {"synced"}


def test_an_unknown_guest_is_a_form_error_and_nothing_is_sent(agent_client, sandbox):
    data = form_data(agent_client, guest_ref="00000000-0000-0000-0000-000000000000")

    response = agent_client.post(edit_url(), data)

    assert (
        "CDP has no guest with ref 00000000-0000-0000-0000-000000000000."
        in response.content.decode()
    )
    assert sandbox.requests_to("POST", CONSUMER_PATH) == []


def test_a_conflict_shows_three_versions_and_re_applies_the_edit_in_one_click(
    agent_client, sandbox
):
    data = form_data(agent_client, first_name="William")
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")

    response = agent_client.post(edit_url(), data, follow=True)

    content = response.content.decode()
    conflict = Push.objects.get(status=Push.Status.CONFLICT)
    assert response.redirect_chain[-1][0] == reverse(
        "consumers:conflict", args=[CONSUMER_REF, conflict.pk]
    )
    assert "Someone changed this consumer in CDP after you opened it" in content
    rows = {row["label"]: row for row in response.context["rows"]}
    assert (
        rows["First name"]["loaded"],
        rows["First name"]["now"],
        rows["First name"]["edited"],
    ) == ("Liam", "Liam", "William")
    assert (rows["Last name"]["loaded"], rows["Last name"]["now"]) == ("Byrne", "Byrne-Walsh")
    assert sandbox.requests_to("POST", CONSUMER_PATH) == []

    response = agent_client.post(
        reverse("consumers:conflict_reapply", args=[CONSUMER_REF, conflict.pk]), follow=True
    )

    assert "Saved William Byrne-Walsh to CDP." in response.content.decode()
    after = sandbox.consumer(CONSUMER_REF)
    assert (after["firstName"], after["lastName"]) == ("William", "Byrne-Walsh")
    assert [e.outcome for e in AuditEntry.objects.filter(action="edit").order_by("sequence")] == [
        "conflict",
        "succeeded",
    ]


def test_discarding_a_conflict_first_shows_the_change_that_will_be_lost(agent_client, sandbox):
    data = form_data(agent_client, first_name="William")
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")
    agent_client.post(edit_url(), data)
    conflict = Push.objects.get(status=Push.Status.CONFLICT)
    url = reverse("consumers:conflict_discard", args=[CONSUMER_REF, conflict.pk])
    conflict_page = agent_client.get(
        reverse("consumers:conflict", args=[CONSUMER_REF, conflict.pk])
    )

    confirm = agent_client.get(url)

    content = confirm.content.decode()
    assert f'href="{url}"' in conflict_page.content.decode()
    assert "The change that will be lost" in content
    assert '<span class="diff-old">William</span></td><td>Liam</td>' in content
    assert f'<form method="post" action="{url}"' in content
    conflict.refresh_from_db()
    assert conflict.resolution == ""  # a GET changes nothing
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.DISCARD).exists()


def test_a_conflict_can_be_discarded(agent_client, sandbox):
    data = form_data(agent_client, first_name="William")
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")
    agent_client.post(edit_url(), data)
    conflict = Push.objects.get(status=Push.Status.CONFLICT)

    response = agent_client.post(
        reverse("consumers:conflict_discard", args=[CONSUMER_REF, conflict.pk]), follow=True
    )

    assert "Your change was discarded; CDP keeps its version." in response.content.decode()
    assert sandbox.consumer(CONSUMER_REF)["firstName"] == "Liam"
    assert AuditEntry.objects.filter(action=AuditEntry.Action.DISCARD).exists()
    assert "Changes not in CDP yet" not in response.content.decode()


def a_conflict(agent_client, sandbox) -> Push:
    data = form_data(agent_client, first_name="William")
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")
    agent_client.post(edit_url(), data)
    return Push.objects.get(status=Push.Status.CONFLICT)


def test_another_agent_can_neither_open_nor_resolve_an_agents_conflict(
    agent_client, client, another_agent, sandbox
):
    conflict = a_conflict(agent_client, sandbox)
    client.force_login(another_agent)
    page = reverse("consumers:conflict", args=[CONSUMER_REF, conflict.pk])
    discard = reverse("consumers:conflict_discard", args=[CONSUMER_REF, conflict.pk])
    reapply = reverse("consumers:conflict_reapply", args=[CONSUMER_REF, conflict.pk])

    assert client.get(page).status_code == 404
    assert client.get(discard).status_code == 404
    assert client.post(discard).status_code == 404
    assert client.post(reapply).status_code == 404
    conflict.refresh_from_db()
    assert conflict.resolution == ""
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.DISCARD).exists()
    assert sandbox.requests_to("POST", CONSUMER_PATH) == []
    detail = client.get(reverse("consumers:detail", kwargs={"ref": CONSUMER_REF}))
    assert page not in detail.content.decode()  # no link to a page they may not open


def test_a_supervisor_resolves_an_agents_conflict_under_their_own_name(
    agent_client, client, supervisor, sandbox
):
    conflict = a_conflict(agent_client, sandbox)
    client.force_login(supervisor)

    client.post(reverse("consumers:conflict_discard", args=[CONSUMER_REF, conflict.pk]))

    [discard] = AuditEntry.objects.filter(action=AuditEntry.Action.DISCARD)
    assert discard.username == "supervisor"


def test_supervisors_see_the_queue_and_can_retry_or_cancel(
    client, agent_client, supervisor, sandbox
):
    data = form_data(agent_client, last_name="Beirne")
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, status=503, times=None))
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


def test_a_supervisor_and_an_administrator_can_edit_too(client, supervisor, administrator, sandbox):
    for user in (supervisor, administrator):
        client.force_login(user)
        assert client.get(edit_url()).status_code == 200


def test_when_cdp_keeps_failing_every_page_says_so_and_saves_are_queued(
    agent_client, sandbox, settings
):
    settings.CDP_BREAKER_THRESHOLD = 2
    data = form_data(agent_client, last_name="Beirne")
    sandbox.inject(Fault(path=CONSUMER_PATH, status=503, times=None))
    for _ in range(2):
        agent_client.post(reverse("consumers:refresh", kwargs={"ref": CONSUMER_REF}))
    sandbox.requests.clear()

    home = agent_client.get(reverse("consumers:home"))
    saved = agent_client.post(edit_url(), data, follow=True)

    assert "CDP is unavailable." in home.content.decode()
    assert "calls to CDP are paused until" in home.content.decode()
    assert "your edit is queued and will be sent automatically" in saved.content.decode()
    assert Push.objects.get().status == Push.Status.PENDING
    assert sandbox.requests_to("GET", CONSUMER_PATH) == []  # the open breaker spared CDP


def test_a_page_never_waits_for_cdp_longer_than_its_budget(agent_client, sandbox, settings):
    settings.CDP_PAGE_BUDGET = 0.6
    settings.CDP_TIMEOUT = 0.4
    sandbox.inject(Fault(path="/v2/.*", latency=0.3, times=None))

    started = time.monotonic()
    response = agent_client.get(reverse("consumers:order", kwargs={"ref": ORDER_REF}))
    took = time.monotonic() - started

    assert response.status_code == 503
    assert took < 0.6 + 0.3, took


def test_a_connection_whose_key_was_removed_gives_a_clear_page_not_a_crash(
    agent_client, sandbox, settings
):
    settings.FIELD_ENCRYPTION_KEY = [base64.b64encode(b"a" * 32).decode()]
    connection = CDPConnection(name="EU production", client_key="key", is_active=True)
    connection.set_api_token("a-secret-api-token")
    connection.save()
    settings.FIELD_ENCRYPTION_KEY = [base64.b64encode(b"b" * 32).decode()]

    response = agent_client.get(reverse("consumers:detail", kwargs={"ref": CONSUMER_REF}))

    assert response.status_code == 503
    assert "The CDP connection “EU production” cannot be used" in response.content.decode()
    assert "Ask an administrator." in response.content.decode()


def test_every_page_and_the_admin_name_the_icon_so_browsers_do_not_ask_for_favicon_ico(
    client, administrator
):
    icon = 'rel="icon" href="/static/favicon.svg"'
    assert icon in client.get(reverse("login")).content.decode()
    client.force_login(administrator)
    for url in (reverse("consumers:home"), reverse("admin:index")):
        assert icon in client.get(url).content.decode(), url
