"""Single sign-on in Chromium against a real OpenID Connect provider (node-oidc-provider).

The provider (tests/oidc/provider.mjs) runs on loopback with four people: one per role and one in
a group the back office does not map. Refusals are provoked at the provider: a nonce stripped
from the authorization request on its way, a replayed callback, or, for what the real provider
never sends its own client (a wrong audience, an expired token, a foreign signature), its own
token response altered by its test control just before it leaves.
"""

import re
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from playwright.sync_api import expect

from audit.models import AuditEntry
from tests import oidc
from tests.e2e.conftest import accessibility_violations

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CALLBACK = "/accounts/oidc/sso/login/callback/"


@pytest.fixture(scope="session")
def identity_provider(live_server):
    try:
        provider = oidc.start(
            redirect_uri=f"{live_server.url}{CALLBACK}",
            # Node looks "localhost" up as ::1 first, where the live server does not listen.
            backchannel_logout_uri=live_server.url.replace("localhost", "127.0.0.1")
            + "/accounts/oidc/backchannel-logout/",
        )
    except oidc.ProviderNotInstalled as error:
        pytest.fail(str(error), pytrace=False)
    yield provider
    provider.stop()


@pytest.fixture
def sso(settings, identity_provider):
    """Point the back office at the provider, as OIDC_* in the environment would."""
    settings.OIDC_ISSUER = identity_provider.issuer
    settings.OIDC_ROLE_MAP = oidc.ROLE_MAP
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1"]  # the back-channel's host
    settings.OIDC_PROVIDER_NAME = "Test ID"
    # As settings.py allows for OIDC_ISSUER: the sign-in form is redirected to the provider.
    settings.SECURE_CSP = {
        **settings.SECURE_CSP,
        "form-action": ["'self'", identity_provider.issuer],
    }
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            **settings.SOCIALACCOUNT_PROVIDERS["openid_connect"],
            "APPS": [
                {
                    "provider_id": "sso",
                    "name": "Test ID",
                    "client_id": identity_provider.client_id,
                    "secret": identity_provider.client_secret,
                    "settings": {
                        "server_url": identity_provider.issuer,
                        "scope": ["openid", "profile", "email", "offline_access"],
                        "token_auth_method": "client_secret_post",
                    },
                }
            ],
        }
    }
    for person, groups in {
        "ana": ["cs-agents"],
        "sam": ["cs-agents", "cs-supervisors"],
        "alex": ["cs-admins"],
        "nobody": ["marketing"],
    }.items():
        identity_provider.set_user(person, groups=groups, active=True)
    return identity_provider


def sign_in_with_sso(page, person: str, password: str = oidc.PASSWORD) -> None:
    """Start at the back office, sign in at the provider, come back (the password only once)."""
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_role("button", name="Sign in with Test ID").click()
    if "/interaction/" in page.url:
        page.get_by_label("Username").fill(person)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in at the provider").click()


def current_user(page):
    return page.get_by_test_id("current-user")


def sign_out(page) -> None:
    current_user(page).click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


@pytest.mark.parametrize(
    ("person", "role"),
    [("ana", "Customer service"), ("sam", "Supervisor"), ("alex", "Administrator")],
)
def test_each_role_signs_in_through_the_provider(page, sso, person, role):
    sign_in_with_sso(page, person)

    expect(current_user(page)).to_contain_text(person)
    expect(current_user(page)).to_contain_text(role)
    entry = AuditEntry.objects.get(action=AuditEntry.Action.SIGN_IN)
    assert entry.username == person
    assert entry.reason.startswith("Single sign-on (Test ID); roles: ")
    assert "amr: pwd" in entry.reason
    assert "acr: urn:backoffice:test:password" in entry.reason


def test_the_supervisor_gets_the_supervisors_pages_and_no_mfa_step(page, sso):
    sign_in_with_sso(page, "sam")

    # MFA is the provider's job for SSO sign-ins: the back office asks for no second factor.
    page.goto("/dashboard/")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def test_someone_in_no_mapped_group_is_signed_in_without_a_role_and_told_whom_to_ask(page, sso):
    sign_in_with_sso(page, "nobody")

    expect(page).to_have_url(re.compile(r"/accounts/no-role/"))
    expect(page.get_by_test_id("no-role")).to_contain_text("holds none of the back office's roles")
    expect(page.get_by_test_id("no-role")).to_contain_text(
        "Ask your team's back-office administrator"
    )
    assert accessibility_violations(page) == []
    page.goto("/dashboard/")
    expect(page.get_by_role("heading", name="You are not allowed to do that")).to_be_visible()


def test_a_group_removed_at_the_provider_removes_the_role_at_the_next_sign_in(page, sso):
    sign_in_with_sso(page, "sam")
    expect(current_user(page)).to_contain_text("Supervisor")
    sign_out(page)

    sso.set_user("sam", groups=["cs-agents"])
    sign_in_with_sso(page, "sam")

    expect(current_user(page)).to_contain_text("Customer service")
    expect(current_user(page)).not_to_contain_text("Supervisor")
    page.goto("/audit/")
    expect(page.get_by_role("heading", name="You are not allowed to do that")).to_be_visible()


def test_a_person_disabled_at_the_provider_loses_the_session_at_the_re_check(page, sso, settings):
    sign_in_with_sso(page, "ana")
    expect(current_user(page)).to_contain_text("ana")

    sso.set_user("ana", active=False)
    settings.OIDC_RECHECK_MINUTES = 0  # due at once; 15 minutes by default
    page.goto("/")

    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.get_by_role("alert")).to_contain_text("Test ID no longer accepts your sign-in")
    ended = AuditEntry.objects.get(action=AuditEntry.Action.SESSIONS_ENDED)
    assert ended.username == "ana"
    assert "no longer accepts the sign-in" in ended.reason


def test_a_session_the_provider_still_vouches_for_goes_on_after_the_re_check(page, sso, settings):
    sign_in_with_sso(page, "ana")

    settings.OIDC_RECHECK_MINUTES = 0
    page.goto("/")

    expect(current_user(page)).to_contain_text("ana")
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.SESSIONS_ENDED).exists()


def test_signing_out_at_the_provider_ends_the_session_by_back_channel_logout(page, sso):
    sign_in_with_sso(page, "ana")
    expect(current_user(page)).to_contain_text("ana")

    page.goto(f"{sso.issuer}/session/end")
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_load_state()

    ended = AuditEntry.objects.filter(action=AuditEntry.Action.SESSIONS_ENDED).first()
    assert ended is not None, Path(sso.log[0]).read_text()  # the provider's own errors
    assert ended.username == "ana"
    assert "back-channel logout" in ended.reason
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def expect_refused(page, reason: str, words: str) -> None:
    refusal = page.get_by_test_id("sso-refused")
    expect(refusal).to_be_visible()
    expect(refusal).to_have_attribute("data-reason", reason)
    expect(refusal).to_contain_text(words)
    expect(current_user(page)).to_have_count(0)  # not signed in
    assert accessibility_violations(page) == []
    entry = AuditEntry.objects.get(action=AuditEntry.Action.SIGN_IN_FAILED)
    assert entry.object_repr.startswith(f"single sign-on refused ({reason})")
    assert entry.outcome == "failed"


@pytest.mark.parametrize(
    ("change", "reason", "words"),
    [
        ({"set": {"aud": "some-other-application"}}, "audience", "meant for another application"),
        ({"foreign_key": True}, "signature", "not signed with its published keys"),
        (
            {"set": {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}},
            "expired",
            "had expired",
        ),
    ],
    ids=["wrong audience", "bad signature", "expired"],
)
def test_an_id_token_failing_a_check_is_refused_with_a_clear_page(page, sso, change, reason, words):
    sso.tamper_next_id_token(**change)

    sign_in_with_sso(page, "ana")

    expect_refused(page, reason, words)


def test_an_id_token_without_the_nonce_is_refused(page, sso):
    # Strip the nonce from the authorization request on its way to the provider, which then
    # issues an ID token without one (as a provider or proxy that drops it would).
    # Playwright sees no redirected request, so the app's redirect itself is rewritten.
    def without_nonce(route):
        response = route.fetch(max_redirects=0)
        parts = urlsplit(response.headers["location"])
        kept = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "nonce"])
        headers = {**response.headers, "location": urlunsplit(parts._replace(query=kept))}
        route.fulfill(response=response, headers=headers)

    page.route(re.compile(r"/accounts/oidc/sso/login/$"), without_nonce)

    sign_in_with_sso(page, "ana")

    expect_refused(page, "nonce_missing", "did not carry the sign-in's nonce")


def test_a_replayed_callback_is_refused_by_its_state(page, sso):
    callbacks = []
    page.on(
        "request", lambda request: callbacks.append(request.url) if CALLBACK in request.url else 0
    )
    sign_in_with_sso(page, "ana")
    expect(current_user(page)).to_contain_text("ana")
    sign_out(page)

    page.goto(callbacks[0])

    expect_refused(page, "state", "already used")


def test_sso_only_refuses_a_password_and_keeps_the_break_glass_form_out_of_the_way(
    page, sso, settings, agent
):
    settings.SSO_ONLY = True
    page.goto("/accounts/login/")

    expect(page.get_by_role("button", name="Sign in with Test ID")).to_be_visible()
    expect(page.get_by_label("Password")).to_be_hidden()
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_have_count(0)
    assert accessibility_violations(page) == []
    page.get_by_text("Emergency sign-in with a password").click()
    page.get_by_label("Username").fill("agent")
    page.get_by_label("Password").fill("agent-password")
    page.get_by_role("button", name="Sign in", exact=True).click()

    refused = page.get_by_role("alert")
    expect(refused).to_contain_text("Passwords are turned off: sign in with Test ID")
    expect(current_user(page)).to_have_count(0)
    assert accessibility_violations(page) == []
