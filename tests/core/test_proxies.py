"""One client address per request, behind trusted proxies or not: in the audit log, the sessions,
the lockout, the JSON log lines and gunicorn's access log."""

import io
import json
import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest
from axes.models import AccessAttempt
from django.test import RequestFactory
from django.urls import reverse
from gunicorn.config import Config
from gunicorn.glogging import Logger

from accounts.models import UserSession
from audit.models import AuditEntry
from backoffice.launch import serve
from consumers.models import Push
from core.proxies import client_ip
from tests.conftest import CONSUMER_REF

PROXY, CLIENT = "10.0.0.1", "203.0.113.5"
# What the load balancer in front adds: the address it took the request from.
BEHIND_THE_PROXY = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": CLIENT}


@pytest.fixture
def one_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 1


@pytest.fixture
def json_lines():
    """The console's JSON lines, as the platform's log shipper reads them."""
    root = logging.getLogger()
    console = next(h for h in root.handlers if h.get_name() == "console")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(console.formatter)
    for log_filter in console.filters:
        handler.addFilter(log_filter)
    root.handlers.insert(0, handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.5", "10.0.0.1"),  # no trusted proxy: the header is the client's word
        (1, "203.0.113.5", "203.0.113.5"),
        (1, "198.51.100.1, 203.0.113.5", "203.0.113.5"),  # the left part was written by the client
        (2, "198.51.100.1, 203.0.113.5, 10.0.0.7", "203.0.113.5"),
        (2, "203.0.113.5", "10.0.0.1"),  # fewer hops than proxies: it bypassed one
        (1, "not-an-address", "10.0.0.1"),
        (1, "", "10.0.0.1"),
        (1, "2001:DB8::1", "2001:db8::1"),
    ],
)
def test_the_client_address_comes_from_trusted_proxies_only(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)

    assert client_ip(request) == expected


def test_behind_a_proxy_a_sign_in_records_the_clients_address_in_the_audit_and_the_session(
    client, agent, one_proxy
):
    client.post(
        reverse("login"), {"username": "agent", "password": "agent-password"}, **BEHIND_THE_PROXY
    )

    assert AuditEntry.objects.get(action=AuditEntry.Action.SIGN_IN).ip_address == CLIENT
    assert UserSession.objects.get(user=agent).ip_address == CLIENT


def test_behind_a_proxy_a_failed_sign_in_and_its_lockout_record_the_clients_address(
    client, agent, one_proxy
):
    for _ in range(5):
        client.post(
            reverse("login"), {"username": "agent", "password": "wrong"}, **BEHIND_THE_PROXY
        )

    failed = AuditEntry.objects.filter(action=AuditEntry.Action.SIGN_IN_FAILED)
    assert set(failed.values_list("ip_address", flat=True)) == {CLIENT}
    assert AuditEntry.objects.get(action=AuditEntry.Action.LOCKED_OUT).ip_address == CLIENT
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {CLIENT}


def test_behind_a_proxy_a_refused_page_records_the_clients_address(client, agent, one_proxy):
    client.force_login(agent)

    client.get(reverse("audit:list"), **BEHIND_THE_PROXY)

    assert AuditEntry.objects.get(action=AuditEntry.Action.PERMISSION_DENIED).ip_address == CLIENT


def test_behind_a_proxy_an_edit_and_its_delivery_record_the_clients_address(
    agent_client, one_proxy
):
    url = reverse("consumers:edit", kwargs={"ref": CONSUMER_REF})
    form = agent_client.get(url).context["form"]
    data = {name: form[name].value() or "" for name in form.fields}

    agent_client.post(url, {**data, "title": "Dr"}, **BEHIND_THE_PROXY)

    assert Push.objects.get().ip_address == CLIENT
    assert AuditEntry.objects.get(action=AuditEntry.Action.EDIT).ip_address == CLIENT


def test_each_log_line_of_a_request_carries_the_clients_address(
    client, agent, one_proxy, json_lines
):
    client.force_login(agent)

    client.get(reverse("audit:list"), **BEHIND_THE_PROXY)
    logging.getLogger("tests").warning("outside any request")

    lines = json_lines()
    refused = [line for line in lines if line["message"].startswith("permission denied")]
    assert [line["client_ip"] for line in refused] == [CLIENT]
    assert lines[-1]["client_ip"] == "-"


def test_without_a_trusted_proxy_the_forwarded_header_is_ignored_everywhere(
    client, agent, json_lines
):
    client.force_login(agent)

    client.get(reverse("audit:list"), **BEHIND_THE_PROXY)

    assert AuditEntry.objects.get(action=AuditEntry.Action.PERMISSION_DENIED).ip_address == PROXY
    refused = [line for line in json_lines() if line["message"].startswith("permission denied")]
    assert [line["client_ip"] for line in refused] == [PROXY]


def test_gunicorns_access_log_names_the_client_behind_the_proxy_and_the_request_id(
    client, agent, one_proxy
):
    client.force_login(agent)
    response = client.get(reverse("consumers:home"), **BEHIND_THE_PROXY)
    logger = Logger(Config())
    reply = SimpleNamespace(
        status="200 OK", headers=list(response.headers.items()), sent=len(response.content)
    )
    # The environ Django read, as gunicorn hands it over (gunicorn adds the raw request line).
    environ = {**response.wsgi_request.META, "RAW_URI": "/"}
    atoms = logger.atoms(reply, SimpleNamespace(headers=[]), environ, timedelta())

    line = serve.ACCESS_LOG_FORMAT % logger.atoms_wrapper_class(atoms)

    assert line.startswith(f"{CLIENT} ")
    assert response["X-Request-ID"] in line
    assert line.endswith(f"via {PROXY}")
