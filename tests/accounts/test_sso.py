"""Single sign-on without a browser: roles from the groups claim, SSO_ONLY and its break-glass
account, and the back-channel logout endpoint's refusals (tests/e2e/test_sso.py signs in)."""

import pytest
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from accounts import roles
from accounts.sso.claims import role_map, roles_for
from accounts.sso.services import user_roles_sync

ROLE_MAP = "cs-agents=Customer service, cs-supervisors=Supervisor,cs-admins=Administrator"


@pytest.fixture
def mapped(settings):
    settings.OIDC_ROLE_MAP = ROLE_MAP


def test_the_role_map_reads_group_role_pairs_and_ignores_unknown_roles(settings):
    settings.OIDC_ROLE_MAP = f"{ROLE_MAP},hr=Payroll,=Supervisor,broken"

    assert role_map() == {
        "cs-agents": "Customer service",
        "cs-supervisors": "Supervisor",
        "cs-admins": "Administrator",
    }


def test_groups_map_to_roles_most_powerful_first(mapped):
    held = roles_for(["cs-agents", "cs-admins", "marketing"])

    assert held == ("Administrator", "Customer service")
    assert roles_for(["marketing"]) == ()


def test_keycloak_group_paths_map_by_their_last_part(mapped):
    assert roles_for(["/org/cs-supervisors"]) == ("Supervisor",)


def test_the_claim_sets_exactly_the_roles_and_leaves_other_groups(db, supervisor, mapped):
    from django.contrib.auth.models import Group

    supervisor.groups.add(Group.objects.create(name="Newsletter"))

    user_roles_sync(user=supervisor, role_names=("Customer service",))

    assert set(supervisor.groups.values_list("name", flat=True)) == {
        "Customer service",
        "Newsletter",
    }
    user_roles_sync(user=supervisor, role_names=())
    assert list(supervisor.groups.values_list("name", flat=True)) == ["Newsletter"]
    assert roles.role_names(supervisor) == []


def test_sso_only_refuses_a_local_password_and_says_why(client, agent, settings):
    settings.SSO_ONLY = True

    response = client.post(reverse("login"), {"username": "agent", "password": "agent-password"})

    assert response.status_code == 200
    assert "Passwords are turned off" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_sso_only_lets_the_break_glass_superuser_in_with_a_password(
    client, django_user_model, settings
):
    settings.SSO_ONLY = True
    django_user_model.objects.create_superuser("break-glass", password="a-long-break-glass-pass")

    response = client.post(
        reverse("login"), {"username": "break-glass", "password": "a-long-break-glass-pass"}
    )

    assert response.status_code == 302
    assert SESSION_KEY in client.session
    # A superuser needs a second factor too: sent to enrol one first.
    assert client.get(reverse("consumers:home"))["Location"] == reverse("mfa_index")


def test_sso_only_refuses_the_password_in_the_backend_too(agent, settings, rf):
    from django.contrib.auth import authenticate

    settings.SSO_ONLY = True
    request = rf.post("/accounts/login/")

    assert authenticate(request, username="agent", password="agent-password") is None


def test_a_back_channel_logout_without_a_token_is_refused(client, db):
    response = client.post(reverse("accounts:backchannel_logout"))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "no-store" in response["Cache-Control"]


def test_a_back_channel_logout_is_only_a_post(client, db):
    assert client.get(reverse("accounts:backchannel_logout")).status_code == 405
