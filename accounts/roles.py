"""The three roles, as Django groups, and what each may do.

The groups and their permissions are created by `consumers/migrations/0002_roles.py`; views check
the permissions, never the group names, so an administrator can grant a single permission too.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for the annotations; the functions import the models when they run
    from django.contrib.auth.models import Permission

CUSTOMER_SERVICE = "Customer service"
SUPERVISOR = "Supervisor"
ADMINISTRATOR = "Administrator"

# Permission codenames ("app_label.codename") per role; the Administrator gets every permission.
CUSTOMER_SERVICE_PERMISSIONS = ["consumers.view_orderconsumer", "consumers.change_orderconsumer"]
SUPERVISOR_PERMISSIONS = [
    *CUSTOMER_SERVICE_PERMISSIONS,
    "audit.view_auditentry",
    "audit.revert_auditentry",
    "consumers.view_push",
    "consumers.manage_push",
    "approvals.view_approvalrequest",
    "approvals.approve_approvalrequest",
]


def role_names(user: Any) -> list[str]:
    """Return the role names the user holds, most powerful first (once per request's user)."""
    if not user.is_authenticated:
        return []
    if not hasattr(user, "_role_names"):
        held = set(user.groups.values_list("name", flat=True))
        user._role_names = [r for r in (ADMINISTRATOR, SUPERVISOR, CUSTOMER_SERVICE) if r in held]
    return user._role_names


def is_administrator(user: Any) -> bool:
    return user.is_active and (user.is_superuser or ADMINISTRATOR in role_names(user))


def ensure_roles() -> None:
    """Create the role groups with their current permissions (the migrations do it on deploy)."""
    from django.contrib.auth.models import Group, Permission

    def permissions(names: list[str]) -> list["Permission"]:
        pairs = [name.split(".") for name in names]
        return [Permission.objects.get(content_type__app_label=a, codename=c) for a, c in pairs]

    Group.objects.get_or_create(name=CUSTOMER_SERVICE)[0].permissions.set(
        permissions(CUSTOMER_SERVICE_PERMISSIONS)
    )
    Group.objects.get_or_create(name=SUPERVISOR)[0].permissions.set(
        permissions(SUPERVISOR_PERMISSIONS)
    )
    Group.objects.get_or_create(name=ADMINISTRATOR)[0].permissions.set(Permission.objects.all())


def grant_administrators_every_permission(**kwargs: object) -> None:
    """Keep the Administrator group complete as later migrations add models (post_migrate)."""
    from django.contrib.auth.models import Group, Permission

    group = Group.objects.filter(name=ADMINISTRATOR).first()
    if group is not None:
        group.permissions.set(Permission.objects.all())
