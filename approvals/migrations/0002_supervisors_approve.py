"""Supervisors see the changes awaiting approval and approve or reject them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

NEW_SUPERVISOR_PERMISSIONS = ["view_approvalrequest", "approve_approvalrequest"]


def grant(apps, schema_editor):
    app_config = apps.get_app_config("approvals")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    supervisor = Group.objects.filter(name="Supervisor").first()
    if supervisor is not None:
        supervisor.permissions.add(
            *Permission.objects.filter(
                content_type__app_label="approvals", codename__in=NEW_SUPERVISOR_PERMISSIONS
            )
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    supervisor = Group.objects.filter(name="Supervisor").first()
    if supervisor is not None:
        supervisor.permissions.remove(
            *supervisor.permissions.filter(
                content_type__app_label="approvals", codename__in=NEW_SUPERVISOR_PERMISSIONS
            )
        )


class Migration(migrations.Migration):
    dependencies = [("approvals", "0001_initial"), ("consumers", "0002_roles")]

    operations = [migrations.RunPython(grant, revoke)]
