"""Roles are groups created by a migration, and the Django admin is for administrators only."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts import roles


def test_the_migration_creates_the_three_roles_with_their_permissions(db):
    def codenames(role):
        return {
            f"{p.content_type.app_label}.{p.codename}"
            for p in Group.objects.get(name=role).permissions.all()
        }

    assert codenames(roles.CUSTOMER_SERVICE) == {
        "consumers.view_orderconsumer",
        "consumers.change_orderconsumer",
    }
    assert codenames(roles.SUPERVISOR) == codenames(roles.CUSTOMER_SERVICE) | {
        "audit.view_auditentry",
        "audit.revert_auditentry",
        "consumers.view_push",
        "consumers.manage_push",
        "approvals.view_approvalrequest",
        "approvals.approve_approvalrequest",
    }
    assert {"auth.change_user", "auth.add_group", "audit.view_auditentry"} <= codenames(
        roles.ADMINISTRATOR
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "status"),
    [("agent", 302), ("supervisor", 302), ("outsider", 302), ("administrator", 200)],
)
def test_only_administrators_open_the_django_admin(client, request, persona, status):
    user = request.getfixturevalue(persona)
    user.is_staff = True  # the staff flag alone must not open the admin
    user.save()
    client.force_login(user)

    response = client.get(reverse("admin:index"))

    assert response.status_code == status


def test_an_administrator_manages_users_in_the_admin(client, administrator):
    client.force_login(administrator)

    assert client.get(reverse("admin:auth_user_changelist")).status_code == 200
    assert client.get(reverse("admin:auth_group_changelist")).status_code == 200


def test_the_audit_log_cannot_be_added_to_changed_or_deleted_in_the_admin(client, administrator):
    client.force_login(administrator)

    assert client.get(reverse("admin:audit_auditentry_changelist")).status_code == 200
    assert client.get(reverse("admin:audit_auditentry_add")).status_code == 403


def test_the_navigation_shows_the_users_role(client, supervisor):
    client.force_login(supervisor)

    content = client.get(reverse("consumers:home")).content.decode()

    assert "supervisor" in content
    assert "Supervisor" in content


def test_signing_in_with_a_password_lands_on_the_home_page(client, agent):
    response = client.post(reverse("login"), {"username": "agent", "password": "agent-password"})

    assert response.status_code == 302
    assert response["Location"] == reverse("consumers:home")


def test_signing_out_needs_a_post(client, agent):
    client.force_login(agent)

    # allauth's sign-out page asks first on a GET; only the POST signs out.
    asked = client.get(reverse("logout"))
    assert asked.status_code == 200
    assert 'method="post"' in asked.content.decode()
    assert client.get(reverse("consumers:home")).status_code == 200, "still signed in"
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("consumers:home")).status_code == 302
