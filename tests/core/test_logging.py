"""Log lines: JSON with a request id, traced to CDP and the worker, and never a secret or a name."""

import base64
import io
import json
import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from audit.models import AuditEntry
from cdp.models import CDPConnection
from cdp_sandbox.server import Fault, error_body
from consumers import services
from consumers.models import Push
from consumers.tasks import push_deliver_task
from core.logging import (
    JSONFormatter,
    PlainFormatter,
    RedactingFilter,
    RequestIdFilter,
    bind_request_id,
    redact,
    remember_secret,
)
from tests.conftest import CONSUMER_REF, ORDER_REF

CONSUMER_PATH = f"/v2/orderConsumers/{CONSUMER_REF}"
# Canary values: none of them may ever appear in a log line.
TOKEN = "CanaryT0ken-5b7c2e91d04f"
EMAIL = "zebedee.canary@example.org"
PHONE = "+353 87 555 0199"
PASSPORT = "PZX7731904"
FIRST, LAST = "Zebedee", "Quillfeather"
PASSWORD = "Canary-Passw0rd-71c3"
CANARIES = {
    "token": TOKEN,
    "token in Basic": base64.b64encode(f"key:{TOKEN}".encode()).decode(),
    "e-mail": EMAIL,
    "e-mail's local part": "zebedee.canary",
    "phone": PHONE,
    "phone's digits": "555 0199",
    "passport": PASSPORT,
    "first name": FIRST,
    "last name": LAST,
    "password": PASSWORD,
}


# --- capturing --------------------------------------------------------------------------------


class Captured:
    def __init__(self, stream: io.StringIO):
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    @property
    def entries(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines()]

    def assert_clean(self) -> None:
        leaked = [name for name, value in CANARIES.items() if value in self.text]
        assert not leaked, f"in the logs: {', '.join(leaked)}\n{self.text}"


@pytest.fixture
def logs():
    """Every record of every logger, at DEBUG, through the console's own formatter and filters."""
    root = logging.getLogger()
    console = next(h for h in root.handlers if h.get_name() == "console")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(console.formatter)
    for log_filter in console.filters:
        handler.addFilter(log_filter)
    loggers = [root] + [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    levels = {logger: logger.level for logger in loggers}
    # First, so it sees each record before any other handler could change it.
    root.handlers.insert(0, handler)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    try:
        yield Captured(stream)
    finally:
        root.removeHandler(handler)
        for logger, level in levels.items():
            logger.setLevel(level)


@pytest.fixture
def canary(sandbox, settings):
    """A CDP token and a consumer whose personal data are all canaries."""
    settings.CDP_API_TOKEN = TOKEN
    sandbox.config.api_token = TOKEN
    sandbox.change_consumer(
        CONSUMER_REF,
        firstName=FIRST,
        lastName=LAST,
        emails=[EMAIL],
        phoneNumbers=[PHONE],
        passportNumber=PASSPORT,
    )
    with sandbox.lock:
        guest = sandbox.data.guests[sandbox.data.consumers[CONSUMER_REF]["guest"]]
        guest.update(firstName=FIRST, lastName=LAST, emails=[EMAIL], phoneNumbers=[PHONE])
    return sandbox


def edit_url(ref=CONSUMER_REF):
    return reverse("consumers:edit", kwargs={"ref": ref})


def form_data(client, **changes):
    """Return the edit form's data as the page rendered it, with some fields changed."""
    form = client.get(edit_url()).context["form"]
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(changes)
    return data


# --- the format and the request id ------------------------------------------------------------


def test_every_line_is_a_json_object_with_a_request_id(agent_client, logs):
    agent_client.post(edit_url(), form_data(agent_client, title="Dr"))
    logging.getLogger("tests").warning("outside any request")

    entries = logs.entries
    assert entries
    for entry in entries:
        assert set(entry) >= {"time", "level", "logger", "message", "request_id"}
        assert entry["time"].endswith("Z")
        assert entry["request_id"]
    assert entries[-1]["request_id"] == "-"


def test_a_requests_id_is_in_its_lines_its_response_and_its_cdp_calls(agent_client, sandbox, logs):
    data = form_data(agent_client, title="Dr")
    sandbox.requests.clear()

    response = agent_client.post(edit_url(), data)

    request_id = response["X-Request-ID"]
    saved = [e for e in logs.entries if "saved to CDP" in e["message"]]
    assert [e["request_id"] for e in saved] == [request_id]
    assert CONSUMER_REF in saved[0]["message"]
    sent = list(sandbox.requests)
    assert sent
    assert {r.headers.get("X-Request-ID") for r in sent} == {request_id}


def test_an_id_from_a_trusted_proxy_is_kept_and_a_forged_one_replaced(agent_client, settings):
    settings.TRUSTED_PROXY_COUNT = 1

    kept = agent_client.get(reverse("consumers:home"), HTTP_X_REQUEST_ID="lb-0123456789abcdef")
    forged = agent_client.get(reverse("consumers:home"), HTTP_X_REQUEST_ID="abcdefgh\nlevel=ok")

    assert kept["X-Request-ID"] == "lb-0123456789abcdef"
    assert "\n" not in forged["X-Request-ID"]
    assert forged["X-Request-ID"] != "abcdefgh\nlevel=ok"


def test_without_a_trusted_proxy_a_clients_request_id_is_replaced_everywhere(client, agent, logs):
    chosen = "attacker-chosen-0123456789"

    response = client.post(
        reverse("login"),
        {"username": "agent", "password": "agent-password"},
        HTTP_X_REQUEST_ID=chosen,
    )

    assert response["X-Request-ID"] != chosen
    entry = AuditEntry.objects.get(action=AuditEntry.Action.SIGN_IN)
    assert entry.request_id == response["X-Request-ID"]
    assert chosen not in logs.text


def test_the_worker_sends_and_logs_the_id_of_the_request_that_queued_the_edit(
    agent_client, sandbox, settings, logs
):
    settings.CDP_RETRY_ATTEMPTS = 1
    settings.PUSH_RETRY_DELAY = 0  # due at once: the worker takes a queued edit only when due
    data = form_data(agent_client, title="Dr")
    sandbox.inject(Fault(method="POST", path=CONSUMER_PATH, status=503))
    response = agent_client.post(edit_url(), data)
    request_id = response["X-Request-ID"]
    push = Push.objects.get(status=Push.Status.PENDING)
    assert push.request_id == request_id
    sandbox.requests.clear()

    assert push_deliver_task.call(push.pk) == "succeeded"

    assert {r.headers.get("X-Request-ID") for r in sandbox.requests} == {request_id}
    saved = [e for e in logs.entries if "saved to CDP" in e["message"]]
    assert [e["request_id"] for e in saved] == [request_id]


def test_calls_outside_a_request_send_no_request_id(sandbox, db):
    services.consumer_fetch(ref=CONSUMER_REF)

    assert sandbox.requests
    assert all("X-Request-ID" not in r.headers for r in sandbox.requests)


def test_make_run_can_switch_to_readable_lines(tmp_path):
    script = (
        "import django, logging; django.setup(); "
        "logging.getLogger('tests').warning('hello %s', 'world')"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "LOG_FORMAT": "plain"}

    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )

    line = result.stderr.strip().splitlines()[-1]
    assert line.endswith("WARNING tests [-] hello world")
    assert not line.startswith("{")


# --- the redaction canary: flows that log, none of them leaking ---------------------------------


def test_a_successful_edit_logs_refs_but_no_personal_data(agent_client, canary, logs):
    response = agent_client.post(edit_url(), form_data(agent_client, title="Dr", last_name="Oakes"))

    assert response.status_code == 302
    assert CONSUMER_REF in logs.text
    logs.assert_clean()


def test_a_refusal_quoting_the_record_is_not_logged(agent_client, canary, logs):
    data = form_data(agent_client, title="Dr")
    quoted = f"firstName {FIRST} {LAST}, emails {EMAIL}, phone {PHONE}, passport {PASSPORT}"
    canary.inject(
        Fault(
            method="POST", path=CONSUMER_PATH, status=400, body=json.dumps(error_body(400, quoted))
        )
    )

    response = agent_client.post(edit_url(), data)

    assert response.status_code == 200
    assert EMAIL in response.content.decode()  # the agent sees CDP's message as it is
    assert "CDPRejected HTTP 400" in logs.text
    assert CONSUMER_REF in logs.text
    logs.assert_clean()


def test_a_refused_token_is_not_logged(agent_client, canary, logs):
    data = form_data(agent_client, title="Dr")
    canary.config.api_token = "another-token-altogether"

    response = agent_client.post(edit_url(), data)

    assert response.status_code == 200
    assert "CDPAuthError HTTP 401" in logs.text
    logs.assert_clean()


def test_a_queued_edit_and_its_delivery_leak_nothing(agent_client, canary, settings, logs):
    settings.CDP_RETRY_ATTEMPTS = 1
    settings.PUSH_RETRY_DELAY = 0  # due at once: the worker takes a queued edit only when due
    data = form_data(agent_client, title="Dr")
    canary.inject(Fault(method="POST", path=CONSUMER_PATH, status=503))
    agent_client.post(edit_url(), data)
    push = Push.objects.get(status=Push.Status.PENDING)

    assert push_deliver_task.call(push.pk) == "succeeded"

    assert "queued after try 1: CDPUnavailable HTTP 503" in logs.text
    logs.assert_clean()


def test_a_permission_denial_leaks_nothing(client, outsider, canary, logs):
    client.force_login(outsider)

    response = client.get(edit_url())

    assert response.status_code == 403
    assert "permission denied" in logs.text
    logs.assert_clean()


def test_a_failed_sign_in_leaks_neither_the_e_mail_nor_the_password(client, db, canary, logs):
    response = client.post(reverse("login"), {"username": EMAIL, "password": PASSWORD})

    assert response.status_code in (200, 403, 429)
    logs.assert_clean()


def test_an_unexpected_error_in_a_view_leaks_nothing(agent_client, canary, monkeypatch, logs):
    def crash(*, ref):
        raise RuntimeError(f"unexpected record {TOKEN} {EMAIL} {PHONE} {PASSPORT}")

    monkeypatch.setattr(services, "consumer_get", crash)
    agent_client.raise_request_exception = False

    response = agent_client.get(reverse("consumers:detail", kwargs={"ref": CONSUMER_REF}))

    assert response.status_code == 500
    errors = [e for e in logs.entries if e["level"] == "ERROR"]
    assert errors
    assert "RuntimeError: unexpected record [redacted token]" in errors[-1]["exception"]
    assert errors[-1]["request_id"] == response["X-Request-ID"]
    logs.assert_clean()


def test_an_order_page_leaks_nothing(agent_client, canary, logs):
    agent_client.get(reverse("consumers:order", kwargs={"ref": ORDER_REF}))
    agent_client.get(reverse("consumers:home"), {"kind": "name", "q": "byrne"})

    assert ORDER_REF in logs.text
    logs.assert_clean()


# --- the redaction itself -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("Authorization: Basic a2V5OnNlY3JldC10b2tlbg==", "a2V5OnNlY3JldC10b2tlbg=="),
        ("{'Authorization': 'Bearer eyJhbGciOi.J9.xyz'}", "eyJhbGciOi.J9.xyz"),
        ("header authorization=Token abc123def456", "abc123def456"),
        ("sent bearer 0123456789abcdef0123", "0123456789abcdef0123"),
        ("to Mary.O'Neill+cdp@mail.example.ie now", "Mary.O'Neill+cdp@mail.example.ie"),
        ("phones ['+353 1 555 1000', '(087) 555-0199', '0871234567']", "555"),
        ("call +44 20 7946 0958.", "7946"),
        ("passport PIE470000 and P1234567, C01X00T47", "470000"),
        ("passport P1234567", "1234567"),
        ("passport C01X00T47", "C01X00T47"),
    ],
)
def test_it_masks_credentials_and_personal_data(text, hidden):
    assert hidden not in redact(text)


@pytest.mark.parametrize(
    "text",
    [
        f"consumer {CONSUMER_REF} of order {ORDER_REF.upper()}",
        "request 4f1c2b3a9d8e7f6a5b4c3d2e1f0a9b8c",
        "paused until 2026-11-27T12:34:56.789Z, since 2026-11-27 12:00:00+00:00",
        "from 192.168.100.200 to 127.0.0.1:8100",
        "push 42 of consumer failed: CDPRejected HTTP 400 on guest_ref",
        "CDP GET /v2/orders failed (CDPUnavailable, HTTP 503); attempt 2 of 3 in 0.25 seconds.",
        "Task id=0d6bd7a2-7c85-4b41-9c0f-8d0f0b3b9b70 path=consumers.tasks.push_deliver_task",
        "booking B94TXY-1",
    ],
)
def test_it_keeps_refs_ids_times_and_addresses_readable(text):
    assert redact(text) == text


def test_it_masks_the_tokens_in_use(settings):
    settings.CDP_API_TOKEN = "settings-token-0001"
    remember_secret("database-token-0002")

    text = redact("tokens settings-token-0001 and database-token-0002")

    assert "0001" not in text
    assert "0002" not in text


def test_it_masks_an_active_connections_token_once_the_client_has_used_it(sandbox, db, logs):
    token = "database-canary-token-7c41"
    sandbox.config.api_token = token
    connection = CDPConnection(
        name="Canary", region=CDPConnection.Region.CUSTOM, custom_url=sandbox.base_url,
        client_key=sandbox.config.client_key, is_active=True,
    )  # fmt: skip
    connection.set_api_token(token)
    connection.save()

    services.consumer_fetch(ref=CONSUMER_REF)
    logging.getLogger("tests").warning("a careless line with %s in it", token)

    assert token not in logs.text
    assert "a careless line with [redacted token] in it" in logs.text


def _record(msg, *args, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("tests", logging.WARNING, __file__, 1, msg, args, exc_info)


def test_the_filter_masks_arguments_and_tracebacks():
    try:
        raise ValueError(f"bad {EMAIL}")
    except ValueError:
        record = _record("to %s", EMAIL, exc_info=sys.exc_info())

    RequestIdFilter().filter(record)
    RedactingFilter().filter(record)
    line = JSONFormatter().format(record)

    assert EMAIL not in line
    assert json.loads(line)["exception"].endswith("ValueError: bad [redacted e-mail]")


def test_the_filter_never_raises_or_drops_a_record():
    record = _record("%s and %s", "only one argument")

    assert RedactingFilter().filter(record) is True
    assert "only one argument" in record.getMessage()


def test_a_value_cannot_forge_a_line():
    record = _record("name %s", 'x\n{"level": "INFO"}\u2028y')
    RequestIdFilter().filter(record)

    assert len(JSONFormatter().format(record).splitlines()) == 1
    assert len(PlainFormatter().format(record).splitlines()) == 1


def test_the_worker_outside_a_request_logs_a_dash_or_the_edits_id():
    record = _record("x")
    RequestIdFilter().filter(record)
    with bind_request_id("edit-request-1234"):
        inside = _record("y")
        RequestIdFilter().filter(inside)

    assert getattr(record, "request_id") == "-"  # noqa: B009 (set by the filter, undeclared)
    assert getattr(inside, "request_id") == "edit-request-1234"  # noqa: B009
