"""CDP_ALLOWED_HOSTS: no credential ever goes to a host that is not on the list.

The client refuses to call any other host (nothing is sent, so the sandbox's request log stays
empty); the connection form, a system check and /readyz say so earlier.
"""

import pytest
from django.core import checks
from django.urls import reverse

from audit.services import RequestMeta
from backoffice.cdp_hosts import with_sandbox
from cdp import client, hosts, services, transport
from cdp.connection import current_connection
from cdp.errors import CDPHostNotAllowed
from cdp.models import CDPConnection
from consumers import pushes
from consumers import services as consumer_services
from consumers.models import Push
from tests.conftest import CONSUMER_REF

pytestmark = pytest.mark.django_db

REGIONAL_HOSTS = [
    "api-engage-ap.sitecorecloud.io",
    "api-engage-eu.sitecorecloud.io",
    "api-engage-jpe.sitecorecloud.io",
    "api-engage-us.sitecorecloud.io",
]
ADD_URL = reverse("admin:cdp_cdpconnection_add")


@pytest.fixture
def regional_only(settings):
    """Allow the regional hosts alone, as production does: the sandbox is not on the list."""
    settings.CDP_ALLOWED_HOSTS = REGIONAL_HOSTS
    return settings


def make_connection(sandbox, user, **fields):
    connection = CDPConnection(
        name="Sandbox",
        region=CDPConnection.Region.CUSTOM,
        custom_url=sandbox.base_url,
        client_key=sandbox.config.client_key,
        timeout=2.0,
        is_active=True,
        **fields,
    )
    return services.connection_save(
        connection=connection, api_token=sandbox.config.api_token, user=user, meta=RequestMeta()
    )


def check_ids() -> set[str | None]:
    return {message.id for message in checks.run_checks()}


# --- which hosts -------------------------------------------------------------------------------


def test_the_regional_hosts_are_allowed_by_default_and_the_tests_add_the_sandbox(settings):
    assert set(REGIONAL_HOSTS) <= set(settings.CDP_ALLOWED_HOSTS)
    assert "127.0.0.1" in settings.CDP_ALLOWED_HOSTS
    for region in CDPConnection.Region.values:
        if region != CDPConnection.Region.CUSTOM:
            assert hosts.host_refusal(region) == ""


@pytest.mark.parametrize(
    "url",
    [
        "https://api-engage-eu.sitecorecloud.io",
        "https://API-Engage-EU.sitecorecloud.io/",
        "https://api-engage-eu.sitecorecloud.io./",  # the same host, written fully qualified
        "https://api-engage-eu.sitecorecloud.io:443/v2",
        "http://127.0.0.1:8100",
    ],
)
def test_it_allows_an_allowed_host_in_any_case_with_a_port_or_a_trailing_dot(url):
    assert hosts.host_refusal(url) == ""


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://evil.example", "evil.example is not in CDP_ALLOWED_HOSTS"),
        ("https://api-engage-eu.sitecorecloud.io.evil.example", "is not in CDP_ALLOWED_HOSTS"),
        ("https://evil.example/api-engage-eu.sitecorecloud.io", "is not in CDP_ALLOWED_HOSTS"),
        ("https://api-engage-eu.sitecorecloud.io@evil.example", "user name or password"),
        ("https://evil.example@api-engage-eu.sitecorecloud.io", "user name or password"),
        ("https://u:p@api-engage-eu.sitecorecloud.io", "user name or password"),
        ("https://evil.example\\@api-engage-eu.sitecorecloud.io", "backslash"),
        ("https://evil.example\t.api-engage-eu.sitecorecloud.io", "control character"),
        (" https://api-engage-eu.sitecorecloud.io", "space"),
        ("https://api-engage-eu.sitecorecloud.io..", "is not in CDP_ALLOWED_HOSTS"),
        ("https://[::1]:8100", "::1 is not in CDP_ALLOWED_HOSTS"),
        ("https://api-engage-eu.sitecorecloud.io:99999", "not a valid URL"),
        ("https://[api-engage-eu.sitecorecloud.io", "not a valid URL"),
        ("ftp://api-engage-eu.sitecorecloud.io", "https://"),
        ("api-engage-eu.sitecorecloud.io", "https://"),
        ("https://", "names no host"),
        ("", "https://"),
        ("https://\u0430pi-engage-eu.sitecorecloud.io", "ASCII"),  # a Cyrillic a (U+0430)
    ],
)
def test_it_refuses_any_other_host_and_any_url_whose_host_is_in_doubt(url, why):
    assert why in hosts.host_refusal(url)


def test_an_ipv6_literal_is_allowed_when_listed_with_or_without_brackets(settings):
    settings.CDP_ALLOWED_HOSTS = ["::1", "[fe80::1]"]

    assert hosts.host_refusal("http://[::1]:8100") == ""
    assert hosts.host_refusal("https://[FE80::1]/") == ""
    assert "not in CDP_ALLOWED_HOSTS" in hosts.host_refusal("http://127.0.0.1:8100")


def test_plain_http_is_refused_for_any_host_but_the_local_machine(settings):
    settings.CDP_ALLOWED_HOSTS = ["api-engage-eu.sitecorecloud.io", "127.0.0.1", "::1", "localhost"]

    refusal = hosts.host_refusal("http://api-engage-eu.sitecorecloud.io")
    assert "https://" in refusal
    assert "sent in clear" in refusal
    assert hosts.host_refusal("https://api-engage-eu.sitecorecloud.io") == ""
    for local in ("http://127.0.0.1:8100", "http://[::1]:8100", "http://localhost:8100"):
        assert hosts.host_refusal(local) == ""


# --- the client, whatever the caller -----------------------------------------------------------


def test_the_client_sends_nothing_to_a_host_that_is_not_allowed(sandbox, regional_only):
    with pytest.raises(CDPHostNotAllowed) as caught:
        client.get_order_consumer(CONSUMER_REF)

    assert "127.0.0.1 is not in CDP_ALLOWED_HOSTS" in str(caught.value)

    assert caught.value.attempts == 0
    assert not caught.value.retryable
    assert list(sandbox.requests) == []
    assert transport.breaker_status(current_connection()).consecutive_failures == 0


def test_the_client_compares_host_names_not_where_they_resolve(sandbox, settings):
    settings.CDP_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.CDP_BASE_URL = sandbox.base_url.replace("127.0.0.1", "localhost")

    with pytest.raises(CDPHostNotAllowed, match="localhost is not in CDP_ALLOWED_HOSTS"):
        client.get_order_consumer(CONSUMER_REF)
    assert list(sandbox.requests) == []

    settings.CDP_ALLOWED_HOSTS = ["LOCALHOST."]
    assert client.get_order_consumer(CONSUMER_REF)["ref"] == CONSUMER_REF


def test_the_client_refuses_an_active_connection_whose_host_is_no_longer_allowed(
    sandbox, administrator, regional_only
):
    regional_only.CDP_ALLOWED_HOSTS = [*REGIONAL_HOSTS, "127.0.0.1"]
    make_connection(sandbox, administrator)
    regional_only.CDP_ALLOWED_HOSTS = REGIONAL_HOSTS

    with pytest.raises(CDPHostNotAllowed):
        client.get_order(CONSUMER_REF)
    assert list(sandbox.requests) == []


def test_an_edit_to_a_host_that_is_not_allowed_fails_with_that_message_and_is_not_queued(
    sandbox, agent, settings
):
    consumer = consumer_services.consumer_fetch(ref=CONSUMER_REF)
    sandbox.reset()
    settings.CDP_ALLOWED_HOSTS = REGIONAL_HOSTS

    result = pushes.consumer_push_update(
        consumer=consumer,
        data={**consumer.editable_values(), "last_name": "Beirne"},
        loaded_modified_at=consumer.cdp_modified_at,
        user=agent,
        meta=RequestMeta(),
    )

    assert result.outcome == pushes.Outcome.FAILED
    assert "is not in CDP_ALLOWED_HOSTS" in str(result.error)
    push = Push.objects.get()
    assert push.status == Push.Status.FAILED
    assert "is not in CDP_ALLOWED_HOSTS" in push.error
    assert list(sandbox.requests) == []


def test_a_connection_test_of_a_host_that_is_not_allowed_sends_nothing_and_says_why(
    sandbox, administrator, settings
):
    connection = make_connection(sandbox, administrator)
    settings.CDP_ALLOWED_HOSTS = REGIONAL_HOSTS

    result = services.connection_test(connection=connection, user=administrator, meta=RequestMeta())

    assert not result.ok
    assert "127.0.0.1 is not in CDP_ALLOWED_HOSTS" in result.message
    assert list(sandbox.requests) == []


# --- the admin form ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["https://evil.example", "http://127.0.0.1@evil.example:8100", "http://evil.example@127.0.0.1"],
)
def test_the_admin_refuses_a_custom_url_on_a_host_that_is_not_allowed(client, administrator, url):
    client.force_login(administrator)
    data = {
        "name": "Proxy",
        "region": CDPConnection.Region.CUSTOM,
        "custom_url": url,
        "client_key": "k",
        "api_token": "a-token-of-some-length",
        "timeout": 5,
    }

    response = client.post(ADD_URL, data)

    assert response.status_code == 200
    page = response.content.decode()
    assert "CDP_ALLOWED_HOSTS" in page or "user name or password" in page
    assert not CDPConnection.objects.exists()


def test_the_admin_refuses_a_region_whose_host_is_not_allowed(client, administrator, settings):
    settings.CDP_ALLOWED_HOSTS = ["api-engage-eu.sitecorecloud.io"]
    client.force_login(administrator)
    data = {
        "name": "US",
        "region": CDPConnection.Region.US,
        "client_key": "k",
        "api_token": "a-token-of-some-length",
        "timeout": 5,
    }

    response = client.post(ADD_URL, data)

    assert response.status_code == 200
    assert "api-engage-us.sitecorecloud.io is not in CDP_ALLOWED_HOSTS" in response.content.decode()
    assert not CDPConnection.objects.exists()


# --- the operator: a system check and /readyz --------------------------------------------------


def test_the_system_check_refuses_cdp_base_url_on_a_host_that_is_not_allowed(settings):
    settings.CDP_BASE_URL = "https://evil.example"
    settings.CDP_API_TOKEN = "a-token"

    assert "cdp.E004" in check_ids()

    settings.CDP_API_TOKEN = ""  # nothing to leak, but calls through the settings would fail
    assert "cdp.W004" in check_ids()
    assert "cdp.E004" not in check_ids()


def test_the_system_check_passes_cdp_base_url_on_an_allowed_host(settings):
    settings.CDP_BASE_URL = "https://api-engage-eu.sitecorecloud.io"
    settings.CDP_API_TOKEN = "a-token"

    assert not {"cdp.E004", "cdp.W004", "cdp.E005"} & check_ids()


@pytest.mark.parametrize(
    "entry", ["https://api-engage-eu.sitecorecloud.io", "127.0.0.1:8100", "*.sitecorecloud.io"]
)
def test_the_system_check_names_an_allowed_host_that_is_not_a_host_name(settings, entry):
    settings.CDP_ALLOWED_HOSTS = [*REGIONAL_HOSTS, entry]

    [message] = [m for m in checks.run_checks() if m.id == "cdp.E005"]
    assert entry in message.msg


def test_readiness_fails_when_cdp_base_url_is_not_allowed(client, regional_only):
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["cdp"] == "failing"


def test_readiness_fails_when_the_active_connection_is_not_allowed(
    client, sandbox, administrator, settings
):
    make_connection(sandbox, administrator)
    settings.CDP_ALLOWED_HOSTS = REGIONAL_HOSTS
    settings.CDP_BASE_URL = "https://api-engage-eu.sitecorecloud.io"

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["cdp"] == "failing"


def test_make_run_adds_the_sandbox_to_the_allowed_hosts_it_is_given():
    assert with_sandbox(None).split(",") == [*REGIONAL_HOSTS, "127.0.0.1"]
    assert with_sandbox("cdp-proxy.internal, 127.0.0.1") == "cdp-proxy.internal,127.0.0.1"
