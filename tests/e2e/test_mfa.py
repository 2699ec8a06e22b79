"""MFA for local accounts in Chromium: passkeys through the DevTools virtual authenticator
(WebAuthn.addVirtualAuthenticator), recovery codes, and TOTP with codes computed here."""

import re
import time

import pytest
from playwright.sync_api import expect

from audit.models import AuditEntry
from tests.e2e.conftest import accessibility_violations
from tests.e2e.signing_in import fill_password, totp_code

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def add_virtual_authenticator(page):
    """Give the browser a platform authenticator that holds passkeys and verifies its user."""
    session = page.context.new_cdp_session(page)
    session.send("WebAuthn.enable")
    session.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return session


def sign_out(page) -> None:
    page.get_by_test_id("current-user").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def confirm_it_is_them(page, password: str) -> None:
    """Changing one's MFA methods asks for the password again (allauth's reauthentication)."""
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    assert accessibility_violations(page) == []
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Confirm").click()


def recovery_codes(page) -> list[str]:
    expect(page.get_by_label("Unused codes")).to_be_visible()
    return page.get_by_label("Unused codes").input_value().split()


def entries(action) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("sequence"))


def test_a_supervisor_enrols_a_passkey_signs_in_with_it_and_with_a_recovery_code(page, supervisor):
    add_virtual_authenticator(page)
    page.goto("/accounts/login/")
    assert accessibility_violations(page) == []

    # A password alone does not open a supervisor's pages: first a second factor.
    fill_password(page, "supervisor", "supervisor-password")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/$"))
    expect(page.get_by_role("alert")).to_contain_text("Your role needs a second factor")
    assert accessibility_violations(page) == []
    page.goto("/dashboard/")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/$"))

    page.goto("/accounts/2fa/webauthn/add/")
    confirm_it_is_them(page, "supervisor-password")
    assert accessibility_violations(page) == []
    page.get_by_label("Passwordless").check()
    page.get_by_role("button", name="Add").click()
    codes = recovery_codes(page)
    assert len(codes) == 10
    assert accessibility_violations(page) == []
    added = {entry.reason for entry in entries(AuditEntry.Action.MFA_ADDED)}
    assert added == {"Added: recovery codes", "Added: passkey"}
    page.goto("/dashboard/")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    sign_out(page)

    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_test_id("current-user")).to_contain_text("supervisor")
    assert entries(AuditEntry.Action.SIGN_IN)[-1].reason == (
        "Signed in with passkey, without a password"
    )
    sign_out(page)

    fill_password(page, "supervisor", "supervisor-password")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
    assert accessibility_violations(page) == []
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_test_id("current-user")).to_contain_text("supervisor")
    [used] = entries(AuditEntry.Action.RECOVERY_CODE_USED)
    assert (used.username, used.reason) == (
        "supervisor",
        "A recovery code was used (9 left) to sign in",
    )
    assert entries(AuditEntry.Action.SIGN_IN)[-1].reason == (
        "Signed in with password + recovery codes"
    )


def wait_for_the_next_totp_period() -> None:
    # A code is good once (allauth refuses it again): the next sign-in needs the next one.
    time.sleep(30 - time.time() % 30 + 0.5)


def test_an_agent_turns_on_totp_and_signs_in_with_a_computed_code(page, agent):
    page.goto("/accounts/login/")
    fill_password(page, "agent", "agent-password")
    expect(page.get_by_test_id("current-user")).to_contain_text("agent")  # MFA optional for agents

    page.goto("/accounts/2fa/totp/activate/")
    confirm_it_is_them(page, "agent-password")
    assert accessibility_violations(page) == []
    secret = page.get_by_label("Authenticator secret").input_value()
    page.get_by_label("Authenticator code").fill(totp_code(secret))
    page.get_by_role("button", name="Activate").click()
    assert len(recovery_codes(page)) == 10
    assert "Added: authenticator app (TOTP)" in [
        entry.reason for entry in entries(AuditEntry.Action.MFA_ADDED)
    ]
    sign_out(page)

    fill_password(page, "agent", "agent-password")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
    page.get_by_label("Code").fill("000000" if totp_code(secret) != "000000" else "111111")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_text("Incorrect code.")).to_be_visible()
    [failed] = entries(AuditEntry.Action.MFA_FAILED)
    assert (failed.username, failed.outcome) == ("agent", "failed")
    assert failed.object_repr == "wrong code for the authenticator app (TOTP)"

    wait_for_the_next_totp_period()
    page.get_by_label("Code").fill(totp_code(secret))
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_test_id("current-user")).to_contain_text("agent")
    assert entries(AuditEntry.Action.SIGN_IN)[-1].reason == (
        "Signed in with password + authenticator app (TOTP)"
    )
