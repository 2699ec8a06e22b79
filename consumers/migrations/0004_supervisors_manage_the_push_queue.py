"""Supervisors see the queue of edits waiting for CDP and may retry or cancel them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

NEW_SUPERVISOR_PERMISSIONS = [("consumers", "view_push"), ("consumers", "manage_push")]


def grant(apps, schema_editor):
    app_config = apps.get_app_config("consumers")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    supervisor = Group.objects.filter(name="Supervisor").first()
    if supervisor is not None:
        for app_label, codename in NEW_SUPERVISOR_PERMISSIONS:
            supervisor.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    supervisor = Group.objects.filter(name="Supervisor").first()
    if supervisor is not None:
        supervisor.permissions.remove(
            *supervisor.permissions.filter(
                content_type__app_label="consumers", codename__in=["view_push", "manage_push"]
            )
        )


class Migration(migrations.Migration):
    dependencies = [("consumers", "0003_push_queue")]

    operations = [migrations.RunPython(grant, revoke)]
