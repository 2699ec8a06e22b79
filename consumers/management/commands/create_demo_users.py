import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import roles

DEMO_USERS = [
    ("agent", roles.CUSTOMER_SERVICE),
    ("supervisor", roles.SUPERVISOR),
    ("admin", roles.ADMINISTRATOR),
]


class Command(BaseCommand):
    help = "Create (or reset) one demo user per role with a fresh random password, printed once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="allow it with DEBUG off")

    def handle(self, *args: Any, force: bool = False, **options: Any) -> None:
        if not settings.DEBUG and not force:
            raise CommandError("Demo users are for local runs; with DEBUG off pass --force.")
        User = get_user_model()
        lines = []
        for username, role in DEMO_USERS:
            password = secrets.token_urlsafe(9)
            user, _ = User.objects.get_or_create(username=username)
            user.set_password(password)
            user.is_active = True
            user.save()
            user.groups.set([Group.objects.get(name=role)])
            lines.append(f"  {username:<11} {password:<14} {role}")
        self.stdout.write("Demo users (new passwords on every run, shown only here):")
        self.stdout.write(f"  {'user':<11} {'password':<14} role")
        self.stdout.write("\n".join(lines))
