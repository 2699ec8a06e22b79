"""Sign-ins (good and bad), sign-outs and refused pages leave audit entries and log records."""

import logging

from django.urls import reverse

from audit.models import AuditEntry


def test_a_sign_in_is_audited_with_where_it_came_from(client, agent):
    client.post(
        reverse("login"),
        {"username": "agent", "password": "agent-password"},
        HTTP_USER_AGENT="Firefox",
    )

    entry = AuditEntry.objects.get(action=AuditEntry.Action.SIGN_IN)
    assert (entry.username, entry.user, entry.outcome) == ("agent", agent, "succeeded")
    assert (entry.ip_address, entry.user_agent) == ("127.0.0.1", "Firefox")
    assert len(entry.request_id) == 32


def test_a_failed_sign_in_is_audited_without_the_password(client, agent):
    response = client.post(reverse("login"), {"username": "agent", "password": "guess-1234"})

    assert response.status_code == 200
    entry = AuditEntry.objects.get(action=AuditEntry.Action.SIGN_IN_FAILED)
    assert (entry.username, entry.user, entry.outcome) == ("agent", None, "failed")
    assert "guess-1234" not in str(AuditEntry.objects.values_list())


def test_a_sign_out_is_audited(client, agent):
    client.force_login(agent)

    client.post(reverse("logout"))

    assert AuditEntry.objects.filter(action=AuditEntry.Action.SIGN_OUT, username="agent").exists()


def test_a_refused_page_is_audited_and_logged(client, agent, caplog):
    client.force_login(agent)

    with caplog.at_level(logging.WARNING, logger="backoffice.security"):
        response = client.get(reverse("audit:list"))

    assert response.status_code == 403
    entry = AuditEntry.objects.get(action=AuditEntry.Action.PERMISSION_DENIED)
    assert (entry.username, entry.object_repr, entry.outcome) == ("agent", "GET /audit/", "failed")
    assert "permission denied: user=agent method=GET path=/audit/" in caplog.text


def test_a_refused_page_logs_one_line_without_a_traceback(client, agent, caplog):
    client.force_login(agent)

    with caplog.at_level(logging.DEBUG):
        client.get(reverse("audit:list"))

    refused = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.name, r.getMessage()) for r in refused] == [
        ("backoffice.security", "permission denied: user=agent method=GET path=/audit/")
    ]
    assert refused[0].exc_info is None


def test_a_refused_post_without_a_csrf_token_logs_one_line(client, agent, caplog):
    client.handler.enforce_csrf_checks = True
    client.force_login(agent)

    with caplog.at_level(logging.DEBUG):
        response = client.post(reverse("logout"))

    assert response.status_code == 403
    refused = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(refused) == 1
    assert refused[0].exc_info is None


def test_security_events_can_be_filtered_in_the_audit_log(client, agent, supervisor):
    client.post(reverse("login"), {"username": "agent", "password": "wrong-password"})
    client.force_login(supervisor)

    response = client.get(reverse("audit:list"), {"action": "sign_in_failed"})

    assert [entry["username"] for entry in response.context["entries"]] == ["agent"]
