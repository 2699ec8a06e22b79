"""The pages for finding and reading: sign-in and roles enforced, the home page's lookups, the
order and consumer pages, their refreshes, and what every page says when CDP fails."""

import base64
import time

import pytest
from django.urls import reverse

from cdp.models import CDPConnection
from cdp_sandbox.server import Fault
from consumers.models import OrderConsumer, Push
from tests.conftest import CONSUMER_REF, ORDER_REF, cdp_path, edit_url, form_data, update_method

# Run for each API version CDP speaks (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("api_version")

CONSUMER_PATH = cdp_path("orderConsumers", CONSUMER_REF)
PAGES = [
    ("consumers:home", {}),
    ("consumers:order", {"ref": ORDER_REF}),
    ("consumers:detail", {"ref": CONSUMER_REF}),
    ("consumers:edit", {"ref": CONSUMER_REF}),
]


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
    assert sandbox.requests_to(update_method(), CONSUMER_PATH) == []


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
    sandbox.inject(Fault(path=cdp_path(".*"), latency=0.3, times=None))

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
