"""Administrators set the approval policy in the admin; each change is a new version, audited."""

from django.contrib.auth.models import Group
from django.urls import reverse

from approvals.models import ApprovalPolicy
from audit.models import AuditEntry


def test_the_policy_list_opens_the_one_policy_with_its_defaults(client, administrator):
    client.force_login(administrator)

    response = client.get(reverse("admin:approvals_approvalpolicy_changelist"), follow=True)

    policy = ApprovalPolicy.objects.get()
    assert response.redirect_chain[-1][0] == reverse(
        "admin:approvals_approvalpolicy_change", args=[policy.pk]
    )
    assert (policy.fields, policy.expiry_hours, policy.supervisors_exempt) == (
        ["guest_ref", "order_item_refs"],
        24,
        False,
    )


def test_an_administrator_changes_the_policy_and_it_is_audited(client, administrator):
    trainees = Group.objects.create(name="Trainees")
    client.force_login(administrator)
    client.get(reverse("admin:approvals_approvalpolicy_changelist"))
    url = reverse("admin:approvals_approvalpolicy_change", args=[1])

    response = client.post(
        url,
        {"fields": ["guest_ref"], "group": trainees.pk, "expiry_hours": 8},
    )

    assert response.status_code == 302
    policy = ApprovalPolicy.objects.get()
    assert (policy.fields, policy.group, policy.expiry_hours, policy.version) == (
        ["guest_ref"],
        trainees,
        8,
        2,
    )
    entry = AuditEntry.objects.get(action=AuditEntry.Action.APPROVAL_POLICY)
    assert entry.username == "administrator"
    assert {c.field: (c.old_value, c.new_value) for c in entry.changes.all()} == {
        "fields": ("Guest, Order items", "Guest"),
        "group": ("", "Trainees"),
        "expiry_hours": ("24", "8"),
    }


def test_an_expiry_out_of_bounds_is_a_form_error(client, administrator):
    client.force_login(administrator)
    client.get(reverse("admin:approvals_approvalpolicy_changelist"))

    response = client.post(
        reverse("admin:approvals_approvalpolicy_change", args=[1]),
        {"fields": ["guest_ref"], "expiry_hours": 0},
    )

    assert response.status_code == 200
    assert "Between 1 hour and 720 hours" in response.content.decode()
    assert ApprovalPolicy.objects.get().version == 1
