"""Who must use a second factor after a password, and how sign-ins are described when audited."""

import base64
import io

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth import SESSION_KEY
from django.core.management import call_command
from django.urls import reverse

from audit.models import AuditEntry
from tests.e2e.signing_in import TOTP_SECRET, give_totp, totp_code


def sign_in(client, username, password=None):
    return client.post(
        reverse("login"), {"username": username, "password": password or f"{username}-password"}
    )


def home(client):
    return client.get(reverse("consumers:home"))


@pytest.mark.parametrize("persona", ["supervisor", "administrator"])
def test_supervisors_and_administrators_signing_in_with_a_password_are_sent_to_enrol(
    client, persona, request
):
    request.getfixturevalue(persona)
    sign_in(client, persona)

    response = home(client)

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_index")
    assert client.get(reverse("mfa_index")).status_code == 200, "the enrolment pages open"


def test_an_agent_signing_in_with_a_password_needs_no_second_factor(client, agent):
    sign_in(client, "agent")

    assert home(client).status_code == 200


def test_a_setting_makes_the_second_factor_required_for_every_local_account(
    client, agent, settings
):
    settings.MFA_REQUIRED_FOR_ALL = True
    sign_in(client, "agent")

    assert home(client)["Location"] == reverse("mfa_index")


def test_once_enrolled_the_password_alone_does_not_sign_in(client, supervisor):
    give_totp(supervisor)

    response = sign_in(client, "supervisor")

    assert response["Location"] == reverse("mfa_authenticate")
    assert SESSION_KEY not in client.session
    client.post(reverse("mfa_authenticate"), {"code": totp_code(TOTP_SECRET)})
    assert client.session[SESSION_KEY] == str(supervisor.pk)
    assert home(client).status_code == 200
    entry = AuditEntry.objects.get(action=AuditEntry.Action.SIGN_IN)
    assert entry.reason == "Signed in with password + authenticator app (TOTP)"


def test_wrong_codes_are_audited_once_and_counted_then_locked(client, supervisor):
    give_totp(supervisor)
    sign_in(client, "supervisor")
    wrong = "000000" if totp_code(TOTP_SECRET) != "000000" else "111111"

    answers = [client.post(reverse("mfa_authenticate"), {"code": wrong}) for _ in range(6)]

    assert all(answer.status_code == 200 for answer in answers)
    assert "Incorrect code." in answers[0].content.decode()
    # allauth's own limit on codes (AXES_FAILURE_LIMIT per user in the cool-off) takes over.
    assert "Too many failed login attempts" in answers[-1].content.decode()
    entry = AuditEntry.objects.get(action=AuditEntry.Action.MFA_FAILED)
    assert (entry.username, entry.outcome) == ("supervisor", "failed")
    assert SESSION_KEY not in client.session


def test_a_password_sign_in_is_described_in_its_audit_entry(client, agent):
    sign_in(client, "agent")

    assert AuditEntry.objects.get(action=AuditEntry.Action.SIGN_IN).reason == (
        "Signed in with password"
    )


def test_the_admins_own_sign_in_page_sends_everyone_to_the_one_with_mfa(client):
    response = client.get("/admin/login/?next=/admin/")

    assert response.status_code == 302
    assert response["Location"] == reverse("login") + "?next=/admin/"


def test_an_administrator_removes_a_lost_mfa_method_audited(client, agent, administrator):
    give_totp(agent)
    authenticator = Authenticator.objects.get(user=agent)
    client.force_login(administrator)

    client.post(reverse("admin:mfa_authenticator_delete", args=[authenticator.pk]), {"post": "yes"})

    assert not Authenticator.objects.filter(user=agent).exists()
    entry = AuditEntry.objects.get(action=AuditEntry.Action.MFA_REMOVED)
    assert (entry.username, entry.object_repr) == ("administrator", "user agent")
    assert entry.reason == "Removed by an administrator: authenticator app (TOTP)"


def test_the_mfa_method_admin_never_shows_a_secret(client, agent, administrator):
    give_totp(agent)
    client.force_login(administrator)
    authenticator = Authenticator.objects.get(user=agent)

    page = client.get(reverse("admin:mfa_authenticator_change", args=[authenticator.pk]))

    assert page.status_code == 200
    assert TOTP_SECRET not in page.content.decode()


def test_the_totp_key_and_recovery_seed_are_stored_encrypted_and_still_give_the_codes(
    client, supervisor
):
    give_totp(supervisor)
    RecoveryCodes.activate(supervisor)

    stored = {a.type: a.data for a in Authenticator.objects.filter(user=supervisor)}
    assert stored[Authenticator.Type.TOTP]["secret"].startswith("gcm1$")
    assert TOTP_SECRET not in str(stored)
    assert stored[Authenticator.Type.RECOVERY_CODES]["seed"].startswith("gcm1$")
    sign_in(client, "supervisor")
    client.post(reverse("mfa_authenticate"), {"code": totp_code(TOTP_SECRET)})
    assert client.session[SESSION_KEY] == str(supervisor.pk)


def test_rotating_the_key_re_encrypts_the_mfa_secrets(supervisor, settings):
    old = base64.b64encode(b"o" * 32).decode()
    new = base64.b64encode(b"n" * 32).decode()
    settings.FIELD_ENCRYPTION_KEY = [old]
    give_totp(supervisor)
    settings.FIELD_ENCRYPTION_KEY = [new, old]
    out = io.StringIO()

    call_command("rotate_credentials_key", stdout=out)

    assert "Re-encrypted 1 MFA secret(s); 0 already used it." in out.getvalue()
    settings.FIELD_ENCRYPTION_KEY = [new]  # the old key removed: the secret still reads
    totp = Authenticator.objects.get(user=supervisor, type=Authenticator.Type.TOTP)
    assert TOTP(totp).validate_code(totp_code(TOTP_SECRET))
