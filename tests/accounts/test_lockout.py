"""Repeated failed sign-ins lock a user name and an address out (django-axes), audited."""

import re
from datetime import timedelta

from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry, RepeatedEvent


def sign_in(client, username="agent", password="wrong-password", **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def fail(client, times, username="agent", **extra):
    return [sign_in(client, username, **extra).status_code for _ in range(times)]


def signed_in(client) -> bool:
    return SESSION_KEY in client.session


def test_the_fifth_failure_locks_out_with_http_429_and_says_when_to_try_again(client, agent):
    statuses = fail(client, 5)

    assert statuses == [200, 200, 200, 200, 429]
    response = sign_in(client)
    assert response.status_code == 429
    alert = response.content.decode()
    assert "Too many failed sign-ins." in alert
    assert re.search(r"locked until \d\d:\d\d UTC \(15 minutes\)", alert)
    assert "An administrator can unlock it sooner." in alert
    assert 'name="password"' in alert, "the sign-in form is still there"


def test_the_right_password_is_refused_while_locked_out(client, agent):
    fail(client, 5)

    response = sign_in(client, password="agent-password")

    assert response.status_code == 429
    assert not signed_in(client)


def test_the_lock_follows_the_user_name_from_any_address(client, agent):
    for number in range(5):
        sign_in(client, REMOTE_ADDR=f"192.0.2.{number + 1}")

    response = sign_in(client, password="agent-password", REMOTE_ADDR="198.51.100.7")

    assert response.status_code == 429
    assert not signed_in(client)


def test_the_lock_follows_the_address_for_any_user_name(client, agent, supervisor):
    for number in range(5):
        sign_in(client, username=f"guess-{number}", REMOTE_ADDR="192.0.2.9")

    from_there = sign_in(client, password="agent-password", REMOTE_ADDR="192.0.2.9")
    elsewhere = sign_in(client, "supervisor", "supervisor-password", REMOTE_ADDR="192.0.2.10")

    assert from_there.status_code == 429
    assert elsewhere.status_code == 302
    assert signed_in(client)


def test_the_lock_ends_after_the_cool_off(client, agent):
    fail(client, 5)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    response = sign_in(client, password="agent-password")

    assert response.status_code == 302
    assert signed_in(client)


def test_the_cool_off_is_read_from_the_settings(client, agent, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=45)

    assert fail(client, 2) == [200, 429]
    assert "(45 minutes)" in sign_in(client).content.decode()


def test_without_a_cool_off_only_an_administrator_unlocks(client, agent, settings):
    settings.AXES_COOLOFF_TIME = None
    fail(client, 5)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(days=30))

    response = sign_in(client, password="agent-password")

    assert response.status_code == 429
    assert "locked until an administrator unlocks it" in response.content.decode()


def test_a_lockout_is_audited_once_and_the_failed_attempts_counted(client, agent, settings):
    # One repeat window for the whole test, however the clock falls (tests/audit/test_repeats.py).
    settings.AUDIT_REPEAT_WINDOW_MINUTES = 60 * 24 * 365 * 50
    fail(client, 7, HTTP_USER_AGENT="Firefox")

    entry = AuditEntry.objects.get(action=AuditEntry.Action.LOCKED_OUT)
    assert (entry.username, entry.ip_address, entry.outcome) == ("agent", "127.0.0.1", "failed")
    assert entry.user_agent == "Firefox"
    assert entry.reason == "5 failed sign-ins: signing in is locked for 15 minutes."
    # The first failure is an entry; the six after it are counted (tests/audit/test_repeats.py).
    failed = AuditEntry.objects.get(action=AuditEntry.Action.SIGN_IN_FAILED)
    assert (failed.username, failed.user_agent) == ("agent", "Firefox")
    assert RepeatedEvent.objects.get(username="agent").repeats == 6


def test_an_administrator_unlocks_a_user_from_the_users_list(client, agent, administrator):
    fail(client, 5)
    client.force_login(administrator)

    response = client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "unlock_sign_in", "_selected_action": [agent.pk]},
        follow=True,
    )

    assert "Unlocked agent: 5 failed sign-in(s) cleared." in response.content.decode()
    entry = AuditEntry.objects.get(action=AuditEntry.Action.UNLOCKED)
    assert (entry.username, entry.object_repr) == ("administrator", "user agent")
    client.logout()
    assert sign_in(client, password="agent-password").status_code == 302


def test_deleting_failed_sign_ins_in_the_admin_unlocks_and_is_audited(client, agent, administrator):
    fail(client, 5)
    client.force_login(administrator)

    client.post(
        reverse("admin:axes_accessattempt_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": list(AccessAttempt.objects.values_list("pk", flat=True)),
            "post": "yes",
        },
    )

    assert not AccessAttempt.objects.exists()
    entry = AuditEntry.objects.get(action=AuditEntry.Action.UNLOCKED)
    assert entry.object_repr == "agent from 127.0.0.1"
    client.logout()
    assert sign_in(client, password="agent-password").status_code == 302


def test_the_lockout_pages_open_in_the_projects_admin(client, agent, administrator):
    fail(client, 5)
    client.force_login(administrator)

    listing = client.get(reverse("admin:axes_accessattempt_changelist"), {"locked_out": "yes"})
    attempt = AccessAttempt.objects.get()
    detail = client.get(reverse("admin:axes_accessattempt_change", args=[attempt.pk]))

    assert listing.status_code == detail.status_code == 200
    assert "Locked Out" in listing.content.decode()


def test_the_reset_command_unlocks_a_user_name(client, agent):
    fail(client, 5)

    call_command("axes_reset_username", "agent")

    assert sign_in(client, password="agent-password").status_code == 302


def test_a_forged_forwarded_header_does_not_escape_the_address_lock(client, agent, supervisor):
    for number in range(5):
        sign_in(client, username=f"guess-{number}", HTTP_X_FORWARDED_FOR=f"203.0.113.{number}")

    response = sign_in(
        client, "supervisor", "supervisor-password", HTTP_X_FORWARDED_FOR="203.0.113.99"
    )

    assert response.status_code == 429


def test_behind_a_trusted_proxy_each_client_address_has_its_own_lock(
    client, agent, supervisor, settings
):
    settings.TRUSTED_PROXY_COUNT = 1
    for number in range(5):
        sign_in(client, username=f"guess-{number}", HTTP_X_FORWARDED_FOR="203.0.113.5")

    locked = sign_in(client, password="agent-password", HTTP_X_FORWARDED_FOR="203.0.113.5")
    other = sign_in(client, "supervisor", "supervisor-password", HTTP_X_FORWARDED_FOR="203.0.113.6")

    assert locked.status_code == 429
    assert other.status_code == 302
    assert AccessAttempt.objects.filter(ip_address="203.0.113.5").exists()
