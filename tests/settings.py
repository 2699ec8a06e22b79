"""Settings for the test suite: the project's settings with a test key and fast password hashing."""

import base64
import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-" + "x" * 40)
# The test client and the browser tests speak plain HTTP; tests/system/test_security_headers.py
# checks the HTTPS settings, and tests/backoffice/test_deploy_check.py the production settings.
os.environ.setdefault("HTTPS", "false")

from backoffice.settings import *

# Hashing with the production hasher makes every login in the suite slow; tests do not need it.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The manifest storage needs `collectstatic` first; tests serve static files from the finders.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CDP_DEMO_ORDER_REFS = []
# Serve static files from the app folders, as a DEBUG run does, without `collectstatic`.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# A fixed key for the stored CDP API tokens; tests that rotate or remove it override this.
FIELD_ENCRYPTION_KEY = [base64.b64encode(b"tests-only-field-encryption-key!").decode()]
# The sandbox the tests start listens on loopback, which some reach as "localhost" (a second host
# with its own circuit breaker); tests that refuse it narrow this again.
CDP_ALLOWED_HOSTS = [*CDP_ALLOWED_HOSTS, "127.0.0.1", "localhost"]
