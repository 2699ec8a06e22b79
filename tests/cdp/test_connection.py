"""Which CDP connection the client calls as: the active one in the database, else the settings."""

import socket

import pytest

from audit.services import RequestMeta
from cdp import client, links, services
from cdp.connection import connection_scope, current_connection
from cdp.errors import CDPAuthError
from cdp.models import CDPConnection
from tests.conftest import CONSUMER_REF

pytestmark = pytest.mark.django_db

TOKEN = "sandbox-api-token"  # the sandbox's own token, so calls with it succeed
WRONG_TOKEN = "wrong-token-zz99"


def make_connection(sandbox, user, *, name="Sandbox", token=TOKEN, active=True):
    connection = CDPConnection(
        name=name,
        region=CDPConnection.Region.CUSTOM,
        custom_url=sandbox.base_url,
        client_key=sandbox.config.client_key,
        timeout=2.0,
        is_active=active,
    )
    return services.connection_save(
        connection=connection, api_token=token, user=user, meta=RequestMeta()
    )


@pytest.fixture
def unreachable_settings(settings):
    """Point the CDP_* settings at a port nobody listens on, so only a DB connection works."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    settings.CDP_BASE_URL = f"http://127.0.0.1:{port}"
    settings.CDP_API_TOKEN = WRONG_TOKEN
    return settings


def test_the_client_uses_the_active_connection(sandbox, administrator, unreachable_settings):
    make_connection(sandbox, administrator)

    consumer = client.get_order_consumer(CONSUMER_REF)

    assert consumer["ref"] == CONSUMER_REF
    base_url = current_connection().base_url
    assert links.link(base_url, "guests", "abc") == {"href": f"{sandbox.base_url}/v2/guests/abc"}


def test_a_wrong_token_in_the_active_connection_raises_an_auth_error(
    sandbox, administrator, unreachable_settings
):
    make_connection(sandbox, administrator, token=WRONG_TOKEN)

    with pytest.raises(CDPAuthError) as caught:
        client.get_order_consumer(CONSUMER_REF)

    assert caught.value.status == 401


def test_the_client_falls_back_to_the_settings_when_no_connection_is_active(sandbox, administrator):
    make_connection(sandbox, administrator, token=WRONG_TOKEN, active=False)

    assert client.get_order_consumer(CONSUMER_REF)["ref"] == CONSUMER_REF
    assert current_connection().api_token == TOKEN  # from the settings


def test_an_explicit_connection_overrides_the_current_one(sandbox, administrator):
    inactive = make_connection(sandbox, administrator, token=WRONG_TOKEN, active=False)

    with pytest.raises(CDPAuthError):
        client.check_credentials(inactive.client_connection())
    assert client.check_credentials(current_connection())["items"] == []


def test_a_scope_looks_the_connection_up_once_for_everything_inside(
    sandbox, administrator, django_assert_num_queries
):
    make_connection(sandbox, administrator)

    with connection_scope(), django_assert_num_queries(1):
        first = current_connection()
        second = current_connection()
        with connection_scope():  # a scope inside another shares its connection
            third = current_connection()

    assert first is second is third
    assert first.base_url == sandbox.base_url
