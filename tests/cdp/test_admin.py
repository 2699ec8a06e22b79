"""Administrators' CDP connections: encrypted tokens, the admin, one active, tests and audit."""

import base64
import hashlib
import logging
import re
import socket

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db import connection as db_connection
from django.test import Client
from django.urls import reverse
from django.views.debug import ExceptionReporter

from audit.models import AuditEntry, FieldChange
from audit.services import RequestMeta
from cdp import client, services, transport
from cdp.checks import check_cdp_api_version
from cdp.connection import current_connection
from cdp.models import CDPConnection, token_fingerprint
from cdp_sandbox.server import Sandbox
from core import crypto
from tests.conftest import CONSUMER_REF, ORDER_REF

pytestmark = pytest.mark.django_db

TOKEN = "sandbox-api-token"  # the sandbox's own token, so calls with it succeed
NEW_TOKEN = "replacement-token-9f3e"
WRONG_TOKEN = "wrong-token-zz99"
ADD_URL = reverse("admin:cdp_cdpconnection_add")
CHANGELIST_URL = reverse("admin:cdp_cdpconnection_changelist")


def change_url(connection):
    return reverse("admin:cdp_cdpconnection_change", args=[connection.pk])


def connection_test_url(connection):
    return reverse("admin:cdp_cdpconnection_test", args=[connection.pk])


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


def form_data(connection, **overrides):
    data = {
        "name": connection.name,
        "region": connection.region,
        "custom_url": connection.custom_url,
        "client_key": connection.client_key,
        "api_token": "",
        "api_version": connection.api_version,
        "timeout": connection.timeout,
        "is_active": "on" if connection.is_active else "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value != ""}


def audit_text() -> str:
    """Every piece of text the audit log holds, to search for a secret."""
    parts = []
    for entry in AuditEntry.objects.all():
        parts += [entry.object_repr, entry.cdp_message, entry.reason, entry.user_agent, str(entry)]
    for change in FieldChange.objects.all():
        parts += [change.field, change.old_value, change.new_value, str(change)]
    return "\n".join(parts)


def key(text: bytes) -> str:
    return base64.b64encode(text.ljust(32, b"!")).decode()


@pytest.fixture
def administrator_client(client, administrator):
    client.force_login(administrator)
    return client


# --- storage -----------------------------------------------------------------------------------


def test_it_stores_the_token_encrypted_and_decrypts_it_back(sandbox, administrator):
    connection = make_connection(sandbox, administrator)

    with db_connection.cursor() as cursor:
        cursor.execute("SELECT * FROM cdp_cdpconnection WHERE id = %s", [connection.pk])
        raw_row = " ".join(str(value) for value in cursor.fetchone())
    assert TOKEN not in raw_row
    assert connection.api_token_encrypted.startswith("gcm1$")
    assert CDPConnection.objects.get().get_api_token() == TOKEN
    assert connection.masked_token == "…oken"


def test_it_encrypts_the_same_token_differently_each_time(sandbox, administrator):
    first = make_connection(sandbox, administrator, name="One")
    second = make_connection(sandbox, administrator, name="Two")

    assert first.api_token_encrypted != second.api_token_encrypted


def test_a_tampered_ciphertext_fails_to_decrypt(sandbox, administrator):
    connection = make_connection(sandbox, administrator)
    prefix, key_id, payload = connection.api_token_encrypted.split("$")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    connection.api_token_encrypted = f"{prefix}${key_id}${flipped}"

    with pytest.raises(crypto.DecryptionFailed, match="does not decrypt"):
        connection.get_api_token()


def test_the_client_connection_never_shows_its_token_in_repr(sandbox, administrator):
    connection = make_connection(sandbox, administrator)

    assert TOKEN not in repr(connection.client_connection())
    assert TOKEN not in repr(current_connection())


# --- the admin form ----------------------------------------------------------------------------


def test_it_adds_a_connection_from_the_admin(sandbox, administrator_client):
    data = {
        "name": "EU production",
        "region": CDPConnection.Region.EU,
        "client_key": "client-key-1",
        "api_token": NEW_TOKEN,
        "api_version": "v2",
        "timeout": "8",
    }

    response = administrator_client.post(ADD_URL, data, follow=True)

    assert response.status_code == 200
    connection = CDPConnection.objects.get()
    assert connection.base_url == "https://api-engage-eu.sitecorecloud.io"
    assert connection.get_api_token() == NEW_TOKEN
    assert not connection.is_active
    assert NEW_TOKEN not in response.content.decode()


def test_it_requires_a_token_when_adding(sandbox, administrator_client):
    data = {
        "name": "No token",
        "region": CDPConnection.Region.US,
        "client_key": "k",
        "timeout": 5,
        "api_version": "v2",
    }

    response = administrator_client.post(ADD_URL, data)

    assert response.status_code == 200
    assert "Enter the API token" in response.content.decode()
    assert not CDPConnection.objects.exists()


def test_it_says_on_the_form_when_there_is_no_key_to_encrypt_with(
    sandbox, administrator_client, settings
):
    settings.FIELD_ENCRYPTION_KEY = []
    settings.DEBUG = False
    data = {"name": "EU", "region": "https://api-engage-eu.sitecorecloud.io", "client_key": "k"}

    response = administrator_client.post(ADD_URL, {**data, "api_token": NEW_TOKEN, "timeout": 5})

    assert response.status_code == 200
    assert "FIELD_ENCRYPTION_KEY is not set" in response.content.decode()
    assert not CDPConnection.objects.exists()


def test_it_refuses_a_custom_region_without_a_url(sandbox, administrator_client):
    data = {
        "name": "Proxy",
        "region": CDPConnection.Region.CUSTOM,
        "client_key": "k",
        "api_token": NEW_TOKEN,
        "api_version": "v2",
        "timeout": 5,
    }

    response = administrator_client.post(ADD_URL, data)

    assert "Enter the URL to use" in response.content.decode()
    assert not CDPConnection.objects.exists()


def test_the_change_form_never_renders_the_token_and_shows_only_the_last_four(
    sandbox, administrator_client, administrator
):
    connection = make_connection(sandbox, administrator)

    page = administrator_client.get(change_url(connection)).content.decode()

    assert TOKEN not in page
    assert "…oken" in page
    assert 'type="password"' in page
    assert connection.api_token_encrypted not in page


def test_a_form_with_an_error_does_not_send_the_typed_token_back(
    sandbox, administrator_client, administrator
):
    connection = make_connection(sandbox, administrator)

    response = administrator_client.post(
        change_url(connection), form_data(connection, timeout="0", api_token=NEW_TOKEN)
    )

    assert response.status_code == 200  # the form comes back with its error
    assert NEW_TOKEN not in response.content.decode()


def test_it_keeps_the_stored_token_when_the_field_is_left_blank(
    sandbox, administrator_client, administrator
):
    connection = make_connection(sandbox, administrator)
    stored = connection.api_token_encrypted

    response = administrator_client.post(change_url(connection), form_data(connection, timeout="5"))

    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.timeout == 5
    assert connection.api_token_encrypted == stored
    assert connection.get_api_token() == TOKEN
    entry = AuditEntry.objects.filter(action=AuditEntry.Action.CREDENTIALS).first()
    assert entry is not None
    assert {change.field for change in entry.changes.all()} == {"timeout"}


def test_it_replaces_the_token_and_audits_its_fingerprint_only(
    sandbox, administrator_client, administrator
):
    # Inactive: the wrong tokens typed here would fail the test before making it active.
    connection = make_connection(sandbox, administrator, active=False)

    administrator_client.post(change_url(connection), form_data(connection, api_token=NEW_TOKEN))

    connection.refresh_from_db()
    assert connection.get_api_token() == NEW_TOKEN
    assert connection.masked_token == "…9f3e"
    entry = AuditEntry.objects.filter(action=AuditEntry.Action.CREDENTIALS).first()
    assert entry is not None
    assert entry.username == "administrator"
    assert entry.object_repr == "CDP connection Sandbox"
    [change] = entry.changes.all()
    assert change.field == "api_token"
    assert change.old_value == token_fingerprint(TOKEN)
    assert change.new_value == token_fingerprint(NEW_TOKEN)
    assert re.fullmatch(r"fingerprint [0-9a-f]{12} \(key [0-9a-f]{8}\)", change.new_value)


def test_a_fingerprint_is_keyed_by_a_key_that_is_not_in_the_database(
    sandbox, administrator, settings
):
    connection = make_connection(sandbox, administrator)
    unsalted = hashlib.sha256(TOKEN.encode()).hexdigest()

    stored = connection.api_token_fingerprint
    settings.SECRET_KEY = "another-secret-key-" + "y" * 40
    assert token_fingerprint(TOKEN) == stored  # SECRET_KEY plays no part
    settings.FIELD_ENCRYPTION_KEY = [key(b"another key")]
    assert token_fingerprint(TOKEN) != stored  # FIELD_ENCRYPTION_KEY's newest key does

    digest = stored.split()[1]
    assert digest not in unsalted
    assert stored in audit_text()


@pytest.mark.parametrize(
    ("token", "shown"),
    [
        ("0123456789abcdef0123456789abcdef", "cdef"),
        ("0123456789abWXYZ", "WXYZ"),  # 16 characters: the last four
        ("0123456789abcXY", "XY"),  # 15: the last two
        ("0123456789XY", "XY"),  # 12: the last two
        ("0123456789a", ""),  # 11: none
        ("01234567", ""),  # 8, the shortest accepted: none
    ],
)
def test_it_stores_and_shows_at_most_the_last_four_characters_and_fewer_of_a_short_token(
    administrator_client, token, shown
):
    data = {
        "name": "EU",
        "region": CDPConnection.Region.EU,
        "client_key": "k",
        "timeout": 5,
        "api_version": "v2",
    }

    administrator_client.post(ADD_URL, {**data, "api_token": token})

    connection = CDPConnection.objects.get()
    assert connection.api_token_tail == shown
    page = administrator_client.get(change_url(connection)).content.decode()
    if shown:
        assert f"…{shown}" in page
    else:
        assert "none of it shown" in page
        assert f"…{token[-4:]}" not in page
        assert f"…{token[-2:]}" not in page


@pytest.fixture
def other_host():
    """A second CDP on another port: a host a connection could be pointed at."""
    other = Sandbox()
    other.start()
    yield other
    other.stop()


def test_it_asks_for_the_token_again_when_the_url_changes_and_sends_nothing_there(
    sandbox, administrator_client, administrator, other_host
):
    connection = make_connection(sandbox, administrator)
    stored = connection.api_token_encrypted

    response = administrator_client.post(
        change_url(connection), form_data(connection, custom_url=other_host.base_url)
    )
    administrator_client.post(connection_test_url(connection))

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors["api_token"] == [
        f"Type the API token again: the connection now points at {other_host.base_url}, "
        "and the stored token goes only where it was typed in for."
    ]
    connection.refresh_from_db()
    assert connection.custom_url == sandbox.base_url
    assert connection.api_token_encrypted == stored
    assert list(other_host.requests) == []  # the test went to the old host, as stored
    assert [(r.method, r.path) for r in sandbox.requests] == [("GET", "/v2/orders")]


def test_it_asks_for_the_token_again_when_the_region_changes(administrator_client, administrator):
    connection = CDPConnection(name="EU", region=CDPConnection.Region.EU, client_key="k")
    services.connection_save(
        connection=connection, api_token=NEW_TOKEN, user=administrator, meta=RequestMeta()
    )

    response = administrator_client.post(
        change_url(connection), form_data(connection, region=CDPConnection.Region.US)
    )

    assert response.status_code == 200
    assert "Type the API token again" in response.content.decode()
    connection.refresh_from_db()
    assert connection.region == CDPConnection.Region.EU


def test_it_moves_a_connection_once_the_token_is_typed_again_and_audits_the_move(
    sandbox, administrator_client, administrator, other_host
):
    connection = make_connection(sandbox, administrator)

    response = administrator_client.post(
        change_url(connection),
        form_data(connection, custom_url=other_host.base_url, api_token=TOKEN),
    )

    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.base_url == other_host.base_url
    entry = AuditEntry.objects.filter(action=AuditEntry.Action.CREDENTIALS).first()
    assert entry is not None
    changes = {change.field: (change.old_value, change.new_value) for change in entry.changes.all()}
    assert changes == {"custom_url": (sandbox.base_url, other_host.base_url)}
    assert entry.username == "administrator"


def test_the_region_change_is_audited_too(administrator_client, administrator):
    connection = CDPConnection(name="EU", region=CDPConnection.Region.EU, client_key="k")
    services.connection_save(
        connection=connection, api_token=NEW_TOKEN, user=administrator, meta=RequestMeta()
    )

    administrator_client.post(
        change_url(connection),
        form_data(connection, region=CDPConnection.Region.US, api_token=NEW_TOKEN),
    )

    entry = AuditEntry.objects.filter(action=AuditEntry.Action.CREDENTIALS).first()
    assert entry is not None
    [change] = entry.changes.all()
    assert (change.field, change.old_value, change.new_value) == (
        "region",
        CDPConnection.Region.EU.value,
        CDPConnection.Region.US.value,
    )


def test_the_service_refuses_to_move_a_stored_token_to_another_host(sandbox, administrator):
    connection = make_connection(sandbox, administrator)
    connection.custom_url = "http://127.0.0.1:1"

    with pytest.raises(ValidationError, match="Type the API token again"):
        services.connection_save(connection=connection, user=administrator, meta=RequestMeta())

    connection.refresh_from_db()
    assert connection.custom_url == sandbox.base_url
    assert AuditEntry.objects.filter(action=AuditEntry.Action.CREDENTIALS).count() == 1


def test_creating_a_connection_is_audited_field_by_field(sandbox, administrator):
    make_connection(sandbox, administrator)

    entry = AuditEntry.objects.get(action=AuditEntry.Action.CREDENTIALS)
    changes = {change.field: (change.old_value, change.new_value) for change in entry.changes.all()}
    assert changes["name"] == ("", "Sandbox")
    assert changes["client_key"] == ("", "sandbox-client-key")
    assert changes["is_active"] == ("", "yes")
    assert changes["api_token"] == ("(none)", token_fingerprint(TOKEN))
    assert entry.reason == "Connection created."


def test_deleting_a_connection_is_audited(sandbox, administrator_client, administrator):
    connection = make_connection(sandbox, administrator)
    delete_url = reverse("admin:cdp_cdpconnection_delete", args=[connection.pk])

    response = administrator_client.post(delete_url, {"post": "yes"})

    assert response.status_code == 302
    assert not CDPConnection.objects.exists()
    entry = AuditEntry.objects.first()
    assert entry is not None
    assert entry.reason == "Connection deleted."
    changes = {change.field: (change.old_value, change.new_value) for change in entry.changes.all()}
    assert changes["name"] == ("Sandbox", "")
    assert changes["api_token"] == (token_fingerprint(TOKEN), "(none)")


def test_the_token_appears_in_no_audit_text_and_no_admin_page(
    sandbox, administrator_client, administrator
):
    # Inactive: the wrong tokens typed here would fail the test before making it active.
    connection = make_connection(sandbox, administrator, active=False)
    for token in (NEW_TOKEN, WRONG_TOKEN):
        response = administrator_client.post(
            change_url(connection), form_data(connection, api_token=token)
        )
        assert response.status_code == 302
        administrator_client.post(connection_test_url(connection))
    connection.refresh_from_db()
    assert connection.get_api_token() == WRONG_TOKEN
    assert connection.last_test_status == 401
    entries = AuditEntry.objects.filter(object_repr="CDP connection Sandbox")
    assert entries.count() == 5  # created, two token changes, two tests

    responses = [
        administrator_client.get(url)
        for url in (
            CHANGELIST_URL,
            change_url(connection),
            reverse("admin:cdp_cdpconnection_history", args=[connection.pk]),
            reverse("admin:audit_auditentry_changelist"),
            *(reverse("admin:audit_auditentry_change", args=[entry.pk]) for entry in entries),
        )
    ]

    assert [response.status_code for response in responses] == [200] * len(responses)
    pages = [response.content.decode() for response in responses]
    for secret in (TOKEN, NEW_TOKEN, WRONG_TOKEN):
        assert secret not in audit_text()
        assert all(secret not in page for page in pages)


class ErrorReports(logging.Handler):
    """Build the error report an admin would be mailed for each failed request, as Django does."""

    def __init__(self):
        super().__init__()
        self.reports: list[str] = []

    def emit(self, record):
        assert record.exc_info is not None  # django.request logs a failed request with it
        exc_type, exc_value, tb = record.exc_info
        reporter = ExceptionReporter(record.request, exc_type, exc_value, tb, is_email=True)
        self.reports.append(reporter.get_traceback_html() + reporter.get_traceback_text())


def test_an_error_report_never_holds_the_token(sandbox, administrator, monkeypatch):
    connection = make_connection(sandbox, administrator)
    browser = Client(raise_request_exception=False)
    browser.force_login(administrator)

    def audit_fails(**kwargs):
        raise RuntimeError("the audit log is not writable")

    monkeypatch.setattr(services, "audit_entry_create", audit_fails)
    reports = ErrorReports()
    logging.getLogger("django.request").addHandler(reports)
    try:
        response = browser.post(change_url(connection), form_data(connection, api_token=NEW_TOKEN))
    finally:
        logging.getLogger("django.request").removeHandler(reports)

    assert response.status_code == 500
    [report] = reports.reports
    assert "the audit log is not writable" in report
    assert NEW_TOKEN not in report
    assert TOKEN not in report


# --- exactly one active ------------------------------------------------------------------------


def test_making_one_connection_active_deactivates_the_others(sandbox, administrator):
    first = make_connection(sandbox, administrator, name="First")
    second = make_connection(sandbox, administrator, name="Second")

    first.refresh_from_db()
    assert not first.is_active
    assert second.is_active
    assert CDPConnection.objects.filter(is_active=True).count() == 1
    entry = AuditEntry.objects.get(object_repr="CDP connection First", reason__startswith="Deact")
    [change] = entry.changes.all()
    assert (change.field, change.old_value, change.new_value) == ("is_active", "yes", "no")


def test_the_database_refuses_a_second_active_connection(sandbox, administrator):
    first = make_connection(sandbox, administrator, name="First")
    second = CDPConnection(name="Second", client_key="k", is_active=True)
    second.set_api_token(NEW_TOKEN)

    with pytest.raises(IntegrityError), transaction.atomic():
        second.save()
    assert CDPConnection.objects.get(is_active=True) == first


def test_the_make_active_action_switches_the_active_connection(
    sandbox, administrator_client, administrator
):
    first = make_connection(sandbox, administrator, name="First")
    second = make_connection(sandbox, administrator, name="Second", active=False)

    response = administrator_client.post(
        CHANGELIST_URL, {"action": "make_active", "_selected_action": [second.pk]}, follow=True
    )

    assert "Second is now the active CDP connection." in response.content.decode()
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_active, second.is_active) == (False, True)


# --- testing before making active --------------------------------------------------------------


def test_it_refuses_to_make_a_connection_active_when_its_test_fails(
    sandbox, administrator_client, administrator
):
    connection = make_connection(sandbox, administrator, token=WRONG_TOKEN, active=False)

    response = administrator_client.post(
        change_url(connection), form_data(connection, is_active="on")
    )

    assert response.status_code == 200
    [error] = response.context["adminform"].form.non_field_errors()
    assert error.startswith("The connection test failed, so it was not made active: CDP refused")
    assert "Authentication credentials are required" in error
    assert "Tick “Activate anyway”" in error
    connection.refresh_from_db()
    assert not connection.is_active
    assert [(r.method, r.path, r.status) for r in sandbox.requests] == [("GET", "/v2/orders", 401)]
    entry = AuditEntry.objects.get(action=AuditEntry.Action.CONNECTION_TEST)
    assert entry.outcome == AuditEntry.Outcome.FAILED
    assert entry.cdp_status == 401
    assert entry.username == "administrator"


def test_it_tests_the_values_being_saved_and_keeps_the_result(
    sandbox, administrator_client, administrator
):
    connection = make_connection(sandbox, administrator, token=WRONG_TOKEN, active=False)

    response = administrator_client.post(
        change_url(connection), form_data(connection, is_active="on", api_token=TOKEN)
    )

    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.is_active
    assert connection.get_api_token() == TOKEN
    assert (connection.last_test_ok, connection.last_test_status) == (True, 200)
    assert connection.last_tested_at is not None
    entry = AuditEntry.objects.get(action=AuditEntry.Action.CONNECTION_TEST)
    assert entry.outcome == AuditEntry.Outcome.SUCCEEDED


def test_adding_an_active_connection_tests_it_first(sandbox, administrator_client):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{unused.getsockname()[1]}"
    data = {
        "name": "Nowhere",
        "region": CDPConnection.Region.CUSTOM,
        "custom_url": nowhere,
        "client_key": "k",
        "api_token": NEW_TOKEN,
        "api_version": "v2",
        "timeout": 2,
        "is_active": "on",
    }

    response = administrator_client.post(ADD_URL, data)

    assert response.status_code == 200
    assert "connection refused" in response.context["adminform"].form.non_field_errors()[0]
    assert not CDPConnection.objects.exists()
    entry = AuditEntry.objects.get(action=AuditEntry.Action.CONNECTION_TEST)
    assert entry.object_repr == "CDP connection Nowhere"
    assert entry.outcome == AuditEntry.Outcome.FAILED


def test_it_makes_a_connection_active_anyway_when_ticked_and_keeps_the_failed_result(
    sandbox, administrator_client, administrator
):
    connection = make_connection(sandbox, administrator, token=WRONG_TOKEN, active=False)

    response = administrator_client.post(
        change_url(connection),
        form_data(connection, is_active="on", activate_anyway="on"),
        follow=True,
    )

    assert response.status_code == 200
    connection.refresh_from_db()
    assert connection.is_active
    assert (connection.last_test_ok, connection.last_test_status) == (False, 401)
    warnings = [m.message for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]
    assert any("although its connection test failed" in message for message in warnings)
    entry = AuditEntry.objects.filter(action=AuditEntry.Action.CREDENTIALS).first()
    assert entry is not None
    assert entry.reason == "Made active although its connection test failed."
    assert {change.field for change in entry.changes.all()} == {"is_active"}


def test_making_active_a_connection_whose_token_cannot_be_decrypted_says_why(
    sandbox, administrator_client, administrator, settings
):
    connection = make_connection(sandbox, administrator, active=False)
    settings.FIELD_ENCRYPTION_KEY = [key(b"another key")]

    response = administrator_client.post(
        change_url(connection), form_data(connection, is_active="on")
    )

    assert response.status_code == 200
    assert "no longer holds" in response.context["adminform"].form.non_field_errors()[0]
    connection.refresh_from_db()
    assert not connection.is_active
    assert list(sandbox.requests) == []


def test_editing_the_active_connection_tests_what_it_will_call_but_a_rename_does_not(
    sandbox, administrator_client, administrator
):
    connection = make_connection(sandbox, administrator)

    renamed = administrator_client.post(change_url(connection), form_data(connection, name="EU"))
    assert renamed.status_code == 302
    assert list(sandbox.requests) == []

    connection.refresh_from_db()
    refused = administrator_client.post(
        change_url(connection), form_data(connection, client_key="someone-else")
    )
    assert refused.status_code == 200
    assert "HTTP 401" in refused.context["adminform"].form.non_field_errors()[0]
    connection.refresh_from_db()
    assert connection.client_key == sandbox.config.client_key


def test_the_make_active_action_refuses_a_connection_whose_test_fails(
    sandbox, administrator_client, administrator
):
    first = make_connection(sandbox, administrator, name="First")
    second = make_connection(sandbox, administrator, name="Second", token=WRONG_TOKEN, active=False)

    response = administrator_client.post(
        CHANGELIST_URL, {"action": "make_active", "_selected_action": [second.pk]}, follow=True
    )

    [message] = get_messages(response.wsgi_request)
    assert message.level_tag == "error"
    assert message.message.startswith("Second was not made active: the connection test failed")
    assert "Authentication credentials are required" in message.message
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_active, second.is_active) == (True, False)
    assert (second.last_test_ok, second.last_test_status) == (False, 401)


@pytest.fixture
def transactions_during_calls():
    """Record, for each reply from CDP, whether a database transaction was open meanwhile."""
    seen = []

    def note(response, *args, **kwargs):
        seen.append(transaction.get_connection().in_atomic_block)

    session = transport._get_session()
    session.hooks["response"].append(note)
    yield seen
    session.hooks["response"].remove(note)


@pytest.mark.django_db(transaction=True)
def test_no_transaction_is_open_while_the_admin_tests_a_connection_before_activating_it(
    sandbox, administrator, transactions_during_calls
):
    browser = Client()
    browser.force_login(administrator)
    first = make_connection(sandbox, administrator, name="First", active=False)
    second = make_connection(sandbox, administrator, name="Second", active=False)

    browser.post(change_url(first), form_data(first, is_active="on"))
    browser.post(CHANGELIST_URL, {"action": "make_active", "_selected_action": [second.pk]})

    assert transactions_during_calls == [False, False]
    second.refresh_from_db()
    assert second.is_active


# --- testing a connection ----------------------------------------------------------------------


def test_a_connection_test_records_success_and_latency_and_is_audited(
    sandbox, administrator_client, administrator
):
    connection = make_connection(sandbox, administrator, active=False)

    response = administrator_client.post(connection_test_url(connection), follow=True)

    assert response.redirect_chain[-1][0] == change_url(connection)
    [message] = get_messages(response.wsgi_request)
    assert message.level_tag == "success"
    assert "CDP accepted the credentials" in message.message
    connection.refresh_from_db()
    assert connection.last_test_ok is True
    assert connection.last_test_status == 200
    assert connection.last_test_latency_ms is not None
    assert connection.last_tested_at is not None
    [call] = sandbox.requests_to("GET", "/v2/orders")
    assert call.query["limit"] == "1"
    assert call.status == 200
    entry = AuditEntry.objects.get(action=AuditEntry.Action.CONNECTION_TEST)
    assert entry.outcome == AuditEntry.Outcome.SUCCEEDED
    assert entry.cdp_status == 200
    assert entry.object_repr == "CDP connection Sandbox"


def test_a_connection_test_with_a_wrong_token_shows_cdps_401_message(
    sandbox, administrator_client, administrator
):
    connection = make_connection(sandbox, administrator, token=WRONG_TOKEN)

    response = administrator_client.post(
        CHANGELIST_URL,
        {"action": "test_connections", "_selected_action": [connection.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "Authentication credentials are required" in response.content.decode()
    [message] = get_messages(response.wsgi_request)
    assert message.level_tag == "error"
    assert "HTTP 401" in message.message
    connection.refresh_from_db()
    assert connection.last_test_ok is False
    assert connection.last_test_status == 401
    assert "Authentication credentials are required" in connection.last_test_message
    entry = AuditEntry.objects.get(action=AuditEntry.Action.CONNECTION_TEST)
    assert entry.outcome == AuditEntry.Outcome.FAILED
    assert entry.cdp_status == 401
    assert "Authentication credentials are required" in entry.cdp_message


def test_a_connection_test_of_an_unreachable_host_records_failure(sandbox, administrator):
    connection = make_connection(sandbox, administrator)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        connection.custom_url = f"http://127.0.0.1:{unused.getsockname()[1]}"
    connection.save()

    result = services.connection_test(connection=connection, user=administrator, meta=RequestMeta())

    assert not result.ok
    assert result.status is None
    assert "connection refused" in result.message
    assert connection.last_test_ok is False


def test_a_connection_test_needs_a_post(sandbox, administrator_client, administrator):
    connection = make_connection(sandbox, administrator)

    assert administrator_client.get(connection_test_url(connection)).status_code == 405
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.CONNECTION_TEST).exists()


def test_a_connection_test_with_an_unknown_key_shows_why_instead_of_failing(
    sandbox, administrator_client, administrator, settings
):
    connection = make_connection(sandbox, administrator)
    settings.FIELD_ENCRYPTION_KEY = [key(b"another key")]

    response = administrator_client.post(connection_test_url(connection), follow=True)

    assert response.status_code == 200
    [message] = get_messages(response.wsgi_request)
    assert "no longer holds" in message.message


# --- who may -----------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["agent", "supervisor"])
def test_non_administrators_get_no_access_to_the_connection_admin(
    sandbox, client, administrator, persona, request
):
    connection = make_connection(sandbox, administrator)
    client.force_login(request.getfixturevalue(persona))

    for url in (CHANGELIST_URL, ADD_URL, change_url(connection)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    response = client.post(connection_test_url(connection))
    assert response.status_code == 302
    response = client.post(change_url(connection), form_data(connection, api_token=NEW_TOKEN))
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.get_api_token() == TOKEN
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.CONNECTION_TEST).exists()


# --- the API version ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v2", "v2.1"])
def test_the_connection_test_says_which_api_version_answered(sandbox, administrator, version):
    connection = make_connection(sandbox, administrator)
    connection.api_version = version
    services.connection_save(connection=connection, user=administrator, meta=RequestMeta())

    result = services.connection_test(connection=connection, user=administrator, meta=RequestMeta())

    assert result.ok
    assert result.message.endswith(f"answering in API {version}.")
    [request] = sandbox.requests_to("GET", f"/{version}/orders")
    assert request.query["referenceId"] == "backoffice-connection-test"


def test_a_version_cdp_does_not_answer_fails_the_test_and_says_to_choose_the_other(
    sandbox, administrator
):
    sandbox.config.versions = ["v2"]
    connection = make_connection(sandbox, administrator, active=False)
    connection.api_version = "v2.1"

    result = services.connection_test(connection=connection, user=administrator, meta=RequestMeta())

    assert not result.ok
    assert result.status == 404
    assert "CDP does not answer API v2.1" in result.message
    assert "choose the other API version" in result.message


def test_the_active_connection_speaks_its_version_and_the_change_is_audited(
    sandbox, administrator, administrator_client
):
    connection = make_connection(sandbox, administrator)

    response = administrator_client.post(
        change_url(connection), form_data(connection, api_version="v2.1")
    )

    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.api_version == "v2.1"
    assert client.get_order_consumer(CONSUMER_REF)["href"].endswith(
        f"/v2.1/orderConsumers/{CONSUMER_REF}"
    )
    changed = FieldChange.objects.filter(field="api_version").order_by("entry__sequence")
    assert [(c.old_value, c.new_value) for c in changed] == [("", "v2"), ("v2", "v2.1")]
    listing = administrator_client.get(CHANGELIST_URL).content.decode()
    assert "v2.1 (current; instances on the 2.1 data model)" in listing


def test_the_environment_fallback_speaks_cdp_api_version(sandbox, settings, db):
    settings.CDP_API_VERSION = "v2.1"

    client.get_order(ORDER_REF)

    assert sandbox.requests_to("GET", f"/v2.1/orders/{ORDER_REF}")


def test_the_system_check_refuses_an_api_version_it_does_not_speak(settings):
    settings.CDP_API_VERSION = "v3"

    [error] = check_cdp_api_version(None)

    assert error.id == "cdp.E006"
    assert "v2, v2.1" in str(error.hint)
