"""Production settings pass Django's deployment checklist, and fail loudly without their secrets."""

import base64
import os
import secrets
import subprocess
import sys

from django.conf import settings

PRODUCTION = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "backoffice.example.com",
    "FIELD_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode(),
    "DATABASE_URL": f"sqlite:///{settings.BASE_DIR / 'db.sqlite3'}",
    "CDP_BASE_URL": "https://api-engage-eu.sitecorecloud.io",
}


def manage(*args, **env):
    """Run manage.py in a fresh process with the production environment (and `env` on top)."""
    # Nothing the test run set for itself (the browser tests allow async-unsafe calls) leaks in.
    test_only = ("DEBUG", "HTTPS", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    clean = {k: v for k, v in os.environ.items() if k not in test_only}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env={**clean, **PRODUCTION, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_deployment_checklist_passes_with_warnings_as_failures():
    result = manage("check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    result = manage("check", SECRET_KEY="")

    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr


def test_the_checklist_fails_when_debug_is_on_in_production():
    result = manage("check", "--deploy", "--fail-level", "WARNING", DEBUG="true")

    assert result.returncode != 0
    assert "security.W018" in result.stderr


def test_the_checklist_fails_without_the_encryption_key():
    result = manage("check", "--deploy", "--fail-level", "WARNING", FIELD_ENCRYPTION_KEY="")

    assert result.returncode != 0
    assert "cdp.E001" in result.stderr
