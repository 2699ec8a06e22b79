"""Sessions end after 30 idle minutes and 12 hours in all, at sign-out, on deactivation, and when
an administrator ends them; the session store forgets them each time."""

import os
from datetime import timedelta
from importlib import import_module

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import UserSession
from accounts.receivers import SIGNED_IN_AT
from accounts.services import user_sessions_end
from audit.models import AuditEntry

SESSION_ENDED = "Your session has ended. A session ends after 30 minutes without activity"


def session_key(client) -> str:
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


def session_exists(key: str) -> bool:
    return import_module(django_settings.SESSION_ENGINE).SessionStore().exists(key)


def expire_in_the_store(key: str) -> None:
    """Let the session's idle time run out: in the database, and in the cache that fronts it."""
    Session.objects.filter(pk=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    # A cached_db session is cached for its idle timeout, so the copy expires with it.
    store = import_module(django_settings.SESSION_ENGINE).SessionStore
    if hasattr(store, "cache_key_prefix"):
        caches[django_settings.SESSION_CACHE_ALIAS].delete(store.cache_key_prefix + key)


def home(client):
    return client.get(reverse("consumers:home"))


def is_sent_to_sign_in(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_defaults_are_30_idle_minutes_and_12_hours_in_all():
    assert django_settings.SESSION_COOKIE_AGE == 30 * 60
    assert django_settings.SESSION_SAVE_EVERY_REQUEST is True
    assert django_settings.SESSION_ABSOLUTE_HOURS == 12
    # The database unless the run chose another (CI's third run: cached_db, through Redis).
    default = "django.contrib.sessions.backends.db"
    assert os.environ.get("SESSION_ENGINE", default) == django_settings.SESSION_ENGINE


def test_signing_in_gives_a_new_session_id_and_drops_the_old_one(client, agent):
    planted = client.session
    planted["planted"] = "by someone else"
    planted.save()

    client.post(reverse("login"), {"username": "agent", "password": "agent-password"})

    assert session_key(client) != planted.session_key
    assert not session_exists(planted.session_key)
    assert client.session[SESSION_KEY] == str(agent.pk)


def test_signing_in_records_the_session_and_when(client, agent):
    client.post(
        reverse("login"),
        {"username": "agent", "password": "agent-password"},
        HTTP_USER_AGENT="Firefox",
    )

    recorded = UserSession.objects.get(user=agent)
    assert recorded.session_key == session_key(client)
    assert (recorded.ip_address, recorded.user_agent) == ("127.0.0.1", "Firefox")
    assert abs(client.session[SIGNED_IN_AT] - timezone.now().timestamp()) < 5


def test_signing_out_deletes_the_session_on_the_server(client, agent):
    client.post(reverse("login"), {"username": "agent", "password": "agent-password"})
    key = session_key(client)

    client.post(reverse("logout"))

    assert not session_exists(key)
    assert not UserSession.objects.filter(session_key=key).exists()
    replayed = Client()
    replayed.cookies[django_settings.SESSION_COOKIE_NAME] = key
    assert is_sent_to_sign_in(home(replayed))


def test_each_request_pushes_the_idle_expiry_ahead(agent_client):
    key = session_key(agent_client)
    Session.objects.filter(pk=key).update(expire_date=timezone.now() + timedelta(minutes=1))

    assert home(agent_client).status_code == 200

    expiry = Session.objects.get(pk=key).expire_date
    assert expiry > timezone.now() + timedelta(minutes=29)


def test_a_session_idle_for_30_minutes_has_ended_and_the_sign_in_page_says_so(agent_client):
    expire_in_the_store(session_key(agent_client))

    response = home(agent_client)

    assert is_sent_to_sign_in(response)
    sign_in_page = agent_client.get(response["Location"])
    assert SESSION_ENDED in sign_in_page.content.decode()
    assert "12 hours after signing in, or when an administrator ends it" in (
        sign_in_page.content.decode()
    )


def test_the_idle_timeout_follows_the_setting(client, agent, settings):
    settings.SESSION_COOKIE_AGE = 5 * 60
    client.force_login(agent)

    home(client)

    expiry = Session.objects.get(pk=session_key(client)).expire_date
    assert expiry < timezone.now() + timedelta(minutes=5, seconds=5)


def test_a_session_ends_12_hours_after_sign_in_however_active(agent_client, agent):
    key = session_key(agent_client)
    session = agent_client.session
    session[SIGNED_IN_AT] -= 12 * 3600 + 1
    session.save()

    response = home(agent_client)

    assert is_sent_to_sign_in(response)
    assert not session_exists(key)
    assert not UserSession.objects.filter(user=agent).exists()
    sign_in_page = agent_client.get(response["Location"])
    assert "You signed in more than 12 hours ago, so your session has ended. Sign in again." in (
        sign_in_page.content.decode()
    )


def test_a_session_just_under_12_hours_old_goes_on(agent_client):
    session = agent_client.session
    session[SIGNED_IN_AT] -= 12 * 3600 - 60
    session.save()

    assert home(agent_client).status_code == 200


def test_a_signed_in_session_without_a_sign_in_time_is_ended(agent_client):
    session = agent_client.session
    del session[SIGNED_IN_AT]
    session.save()

    assert is_sent_to_sign_in(home(agent_client))


def test_deactivating_a_user_ends_all_their_sessions(agent, client):
    client.force_login(agent)
    elsewhere = Client()
    elsewhere.force_login(agent)
    keys = [session_key(client), session_key(elsewhere)]

    agent.is_active = False
    agent.save()

    assert not any(session_exists(key) for key in keys)
    assert not UserSession.objects.filter(user=agent).exists()
    assert is_sent_to_sign_in(home(client))
    assert is_sent_to_sign_in(home(elsewhere))


def test_deactivating_a_user_in_the_admin_ends_their_sessions(agent, administrator, client):
    agent_browser = Client()
    agent_browser.force_login(agent)
    client.force_login(administrator)
    data = {
        "username": "agent",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        # is_active left out: the box is unticked.
        "user_sessions-TOTAL_FORMS": "0",
        "user_sessions-INITIAL_FORMS": "0",
    }

    response = client.post(reverse("admin:auth_user_change", args=[agent.pk]), data)

    assert response.status_code == 302, response.context and response.context["errors"]
    agent.refresh_from_db()
    assert not agent.is_active
    assert is_sent_to_sign_in(home(agent_browser))


def test_an_administrator_ends_a_users_sessions_from_the_admin_audited(
    agent, administrator, client
):
    agent_browser = Client()
    agent_browser.force_login(agent)
    client.force_login(administrator)

    response = client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "end_sessions", "_selected_action": [agent.pk]},
        follow=True,
    )

    assert "Ended 1 signed-in session(s) of agent." in response.content.decode()
    assert is_sent_to_sign_in(home(agent_browser))
    assert home(client).status_code == 200, "the administrator's own session goes on"
    entry = AuditEntry.objects.get(action=AuditEntry.Action.SESSIONS_ENDED)
    assert (entry.username, entry.object_repr, entry.outcome) == (
        "administrator",
        "user agent",
        "succeeded",
    )
    assert entry.reason == "1 signed-in session(s) ended by an administrator"


def test_the_user_page_lists_signed_in_sessions_without_their_keys(agent, administrator, client):
    agent_browser = Client()
    agent_browser.force_login(agent)
    client.force_login(administrator)

    page = client.get(reverse("admin:auth_user_change", args=[agent.pk])).content.decode()

    assert "Signed-in sessions" in page
    assert session_key(agent_browser) not in page


@pytest.mark.parametrize(
    "engine",
    [
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.cache",
        "django.contrib.sessions.backends.cached_db",
    ],
)
def test_ending_sessions_works_with_each_server_side_session_store(engine, agent, settings):
    settings.SESSION_ENGINE = engine
    browser = Client()
    browser.force_login(agent)
    assert home(browser).status_code == 200
    key = session_key(browser)

    assert user_sessions_end(user=agent) == 1

    assert not session_exists(key)
    assert is_sent_to_sign_in(home(browser))


def test_a_session_whose_key_changed_can_still_be_ended(administrator, client):
    client.force_login(administrator)
    old_key = session_key(client)
    client.post(
        reverse("admin:password_change"),
        {
            "old_password": "administrator-password",
            "new_password1": "a-long-unusual-passphrase-42",
            "new_password2": "a-long-unusual-passphrase-42",
        },
    )
    assert session_key(client) != old_key, "Django gives a new key after a password change"
    assert home(client).status_code == 200

    user_sessions_end(user=administrator)

    assert is_sent_to_sign_in(home(client))
