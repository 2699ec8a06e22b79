"""Create the three roles as groups with their permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

# Frozen as they were when this migration was written; later migrations extend them.
CUSTOMER_SERVICE = "Customer service"
SUPERVISOR = "Supervisor"
ADMINISTRATOR = "Administrator"
CUSTOMER_SERVICE_PERMISSIONS = ["consumers.view_orderconsumer", "consumers.change_orderconsumer"]
SUPERVISOR_PERMISSIONS = [
    *CUSTOMER_SERVICE_PERMISSIONS,
    "audit.view_auditentry",
    "audit.revert_auditentry",
]


def _ensure_permissions(apps):
    # Permissions are normally created after all migrations ran; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None


def _permissions(apps, names):
    Permission = apps.get_model("auth", "Permission")
    found = []
    for name in names:
        app_label, codename = name.split(".")
        found.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return found


def create_roles(apps, schema_editor):
    _ensure_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    customer_service, _ = Group.objects.get_or_create(name=CUSTOMER_SERVICE)
    customer_service.permissions.set(_permissions(apps, CUSTOMER_SERVICE_PERMISSIONS))
    supervisor, _ = Group.objects.get_or_create(name=SUPERVISOR)
    supervisor.permissions.set(_permissions(apps, SUPERVISOR_PERMISSIONS))
    administrator, _ = Group.objects.get_or_create(name=ADMINISTRATOR)
    administrator.permissions.set(Permission.objects.all())


def remove_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name__in=[CUSTOMER_SERVICE, SUPERVISOR, ADMINISTRATOR]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("consumers", "0001_initial"),
        ("audit", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("sessions", "0001_initial"),
        ("admin", "0003_logentry_add_action_flag_choices"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
