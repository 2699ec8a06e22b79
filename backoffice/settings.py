"""Settings for the CDP order-consumer back office, read from the environment.

Every operator-facing value comes from an environment variable (or an optional `.env` file in
the project root; variables already set in the environment win). `.env.example` lists them all.
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from backoffice.cdp_hosts import REGIONAL_HOSTS

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# overwrite=False: a variable set in the real environment beats the one in `.env`.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

# Production has no default secret and fails loudly; only a DEBUG run may fall back to a dev key.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=true for a local development run).")
    SECRET_KEY = "insecure-development-key-only-used-when-debug-is-on"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
# Production is served over HTTPS (usually TLS ends at a load balancer in front). HTTPS=false is
# only for trying the production shape on plain http://127.0.0.1 (`make serve`) or in tests.
HTTPS = env.bool("HTTPS", default=not DEBUG)

INSTALLED_APPS = [
    "backoffice.apps.BackofficeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # allauth's passkey list shows "last used" with naturaltime.
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "core",
    "cdp",
    "audit",
    "consumers",
    "axes",
    # Sign-in pages, MFA and single sign-on (docs/sso.md); accounts/templates override theirs.
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    # After django.contrib.auth, axes and allauth: its admin replaces theirs for users and
    # lockouts, its templates theirs.
    "accounts",
    "approvals",
    "dashboard",
    "privacy",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "backoffice.middleware.RequestIdMiddleware",
    "backoffice.middleware.CDPPageBudgetMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before the CSRF check, which is the first to read a POST's body (core/uploads.py).
    "core.uploads.RequestBodyLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.SessionLifetimeMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Ends single sign-on sessions the identity provider no longer vouches for (refresh token).
    "accounts.middleware.SSORecheckMiddleware",
    # Sends supervisors and administrators who signed in with a password to enrol an MFA method.
    "accounts.middleware.MFARequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns a locked-out sign-in into the sign-in page with the lockout (HTTP 429).
    "axes.middleware.AxesMiddleware",
    "backoffice.middleware.NoStoreMiddleware",
]

ROOT_URLCONF = "backoffice.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "backoffice.context_processors.roles",
                "backoffice.context_processors.cdp_status",
                "backoffice.context_processors.search_box",
                "backoffice.context_processors.notifications",
                "backoffice.context_processors.approvals",
            ],
        },
    },
]

WSGI_APPLICATION = "backoffice.wsgi.application"

# SQLite in the project folder is the zero-set-up default; production sets a postgres:// URL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Keep a database connection open between requests (PostgreSQL): opening one per request costs
# more than most of the queries a page runs. Health checks drop connections the server closed.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Take SQLite's write lock when a transaction begins, so audit writers queue instead of
    # failing halfway, and wait for it rather than erroring at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(transaction_mode="IMMEDIATE", timeout=20)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# CACHES: in the shared-state section below (REDIS_URL).

# Request bodies (core/uploads.py): form fields up to this many bytes (the largest form, the
# bulk refresh's 10,000 pasted links, is about 1 MB), plus the files a page takes, which only the
# bulk refresh does; a body declaring more is refused unread, and a file sent elsewhere refused.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_HANDLERS = [
    "core.uploads.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- HTTP security (OWASP ASVS 5.0 V3; docs/security.md) -------------------------------------
# Every page: HSTS for a year, nosniff, no referrer to other sites, no framing, an isolated
# browsing context, and a Content Security Policy allowing only this site's own files, with a
# per-response nonce (the templates have no inline script or style at all).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
# Load balancers probe over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = 31_536_000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    # Bootstrap draws its form controls' icons with data: SVG images.
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
}
# TLS usually ends at a load balancer, which must set X-Forwarded-Proto (and strip one sent by
# the client); only then is this header trusted.
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Cookies: HTTPS only where HTTPS is on, never readable by scripts (the forms carry the CSRF
# token in a hidden field, so its cookie can be HttpOnly too), and not sent on cross-site
# requests. The __Host- prefix pins them to this host and path (ASVS 3.3.1).
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_NAME = "__Host-sessionid" if HTTPS else "sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken" if HTTPS else "csrftoken"

# --- Accounts: passwords, sign-in throttling, sessions (OWASP ASVS 5.0 V6, V7; docs/security.md)
# Argon2id with Django's parameters (t=2, m=100 MiB, p=8; ASVS 11.4.2). The other hashers only
# verify older hashes, which are re-hashed with Argon2 at the user's next sign-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTHENTICATION_BACKENDS = [
    # First, so a locked-out sign-in is refused before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    # allauth's backend (user names), refusing passwords of all but superusers when SSO_ONLY.
    "accounts.backends.PasswordBackend",
]
# django-axes counts failed sign-ins in the database and locks out at AXES_FAILURE_LIMIT, until
# AXES_COOLOFF_MINUTES pass without another attempt (0: until an administrator unlocks it).
# Two separate counters by default: per user name, from any address (guessing one account's
# password from many addresses; OWASP counts failures per account), and per client address, for
# any name (one address trying a password on every account). The (name, address) pair alone
# would allow both. The price: whoever knows a user name can lock it for the cool-off, and
# people behind one NAT address share its counter; such a site can set
# AXES_LOCKOUT_PARAMETERS=username (a "+" joins parameters into one counter: username+ip_address).
AXES_LOCKOUT_PARAMETERS = [
    parameter.split("+") if "+" in parameter else parameter
    for parameter in env.list("AXES_LOCKOUT_PARAMETERS", default=["username", "ip_address"])
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_MINUTES = env.int("AXES_COOLOFF_MINUTES", default=15)
AXES_COOLOFF_TIME = timedelta(minutes=AXES_COOLOFF_MINUTES) if AXES_COOLOFF_MINUTES > 0 else None
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# The audit log records every sign-in; axes' own log of them would be a second, unpruned copy.
AXES_DISABLE_ACCESS_LOG = True
# Behind reverse proxies (a load balancer, ...), how many: the client's address is then read from
# X-Forwarded-For, that many entries from the right, the part the proxies wrote. 0: the header
# is ignored (a client can write anything there) and the peer's address is the client's. An
# incoming X-Request-ID is kept only behind them (backoffice/middleware.py).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "core.proxies.client_ip"

# Sessions live on the server, so they can be ended there (sign-out, deactivation, an
# administrator): the database by default, or with REDIS_URL set ...backends.cached_db (read
# from Redis, written through to the database, so a Redis restart signs nobody out).
SESSION_ENGINE = env.str("SESSION_ENGINE", default="django.contrib.sessions.backends.db")
if SESSION_ENGINE.endswith("signed_cookies"):
    raise ImproperlyConfigured("SESSION_ENGINE must keep sessions on the server, not in cookies.")
# Idle timeout (ASVS 7.3.1): every request pushes the expiry this far ahead.
SESSION_IDLE_TIMEOUT_MINUTES = env.int("SESSION_IDLE_TIMEOUT_MINUTES", default=30)
SESSION_COOKIE_AGE = SESSION_IDLE_TIMEOUT_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = True
# Absolute lifetime (ASVS 7.3.2): accounts.middleware ends a session this long after sign-in.
SESSION_ABSOLUTE_HOURS = env.float("SESSION_ABSOLUTE_HOURS", default=12.0)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "consumers:home"
LOGOUT_REDIRECT_URL = "login"

# --- Sign-in pages and MFA: django-allauth (docs/security.md V6, docs/sso.md) ----------------
# Local accounts sign in with a user name; administrators create them (no sign-up, no e-mail).
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_FORMS = {"login": "accounts.forms.SignInForm"}
# Sessions end after the idle timeout whatever the browser says: no "remember me".
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PREVENT_ENUMERATION = True
# Lockout: passwords are counted by django-axes (per user name and per address, an audited
# lockout an administrator can lift, see AXES_* above); allauth's own password counter is
# switched off in accounts/adapters.py so there is one lock, not two. allauth's "login_failed"
# limit still guards MFA codes, which axes never sees: AXES_FAILURE_LIMIT wrong codes per user in
# AXES_COOLOFF_MINUTES (at least one minute). allauth's flood limit on the sign-in page itself
# (30 posts a minute per address) is left to axes' per-address lock too, so every failed try is
# a counted failure in the audit log rather than a request refused unseen.
ACCOUNT_RATE_LIMITS = {
    "login": None,
    "login_failed": f"{10 * AXES_FAILURE_LIMIT}/m/ip,"
    f"{AXES_FAILURE_LIMIT}/{max(AXES_COOLOFF_MINUTES, 1) * 60}s/key",
}
MFA_ADAPTER = "accounts.adapters.MFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", default="CDP back office")
# Passkeys need a secure origin; http://localhost counts as one for browsers, and DEBUG runs and
# tests on plain HTTP are let through by allauth too.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = not HTTPS
# Supervisors and administrators who sign in with a password must use a second factor (they are
# sent to enrol one); MFA_REQUIRED_FOR_ALL=true asks it of every local account.
MFA_REQUIRED_FOR_ALL = env.bool("MFA_REQUIRED_FOR_ALL", default=False)

# --- Single sign-on over OpenID Connect (docs/sso.md) ----------------------------------------
SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"
# New people are created at their first sign-in, their user name from the provider's claim.
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_LOGIN_ON_GET = False
# The refresh token is kept, so the session can be re-checked with the provider.
SOCIALACCOUNT_STORE_TOKENS = True
OIDC_ISSUER = env.str("OIDC_ISSUER", default="")
OIDC_CLIENT_ID = env.str("OIDC_CLIENT_ID", default="")
OIDC_CLIENT_SECRET = env.str("OIDC_CLIENT_SECRET", default="")
OIDC_PROVIDER_NAME = env.str("OIDC_PROVIDER_NAME", default="your company account")
OIDC_SCOPES = env.list("OIDC_SCOPES", default=["openid", "profile", "email", "offline_access"])
OIDC_ROLES_CLAIM = env.str("OIDC_ROLES_CLAIM", default="groups")
# "provider group=role" pairs, comma-separated, e.g. cs-agents=Customer service.
OIDC_ROLE_MAP = env.str("OIDC_ROLE_MAP", default="")
OIDC_RECHECK_MINUTES = env.int("OIDC_RECHECK_MINUTES", default=15)
# Who people without a role should ask, shown on the "no role" page.
ACCESS_CONTACT = env.str("ACCESS_CONTACT", default="your team's back-office administrator")
# Local passwords refused for all but superusers (the break-glass account, docs/sso.md).
SSO_ONLY = env.bool("SSO_ONLY", default=False)
if SSO_ONLY and not OIDC_ISSUER:
    raise ImproperlyConfigured("SSO_ONLY=true needs OIDC_ISSUER, OIDC_CLIENT_ID, ...")
# Signing in with SSO posts a form that is redirected to the provider: the CSP must allow it.
if OIDC_ISSUER:
    _issuer = urlsplit(OIDC_ISSUER)
    SECURE_CSP["form-action"] = [CSP.SELF, f"{_issuer.scheme}://{_issuer.netloc}"]
SOCIALACCOUNT_PROVIDERS = {
    "openid_connect": {
        # The generic provider with the ID token's signature always checked and a nonce.
        "provider_class": "accounts.sso.provider.CheckedOpenIDConnectProvider",
        "OAUTH_PKCE_ENABLED": True,
        "APPS": (
            [
                {
                    "provider_id": "sso",
                    "name": OIDC_PROVIDER_NAME,
                    "client_id": OIDC_CLIENT_ID,
                    "secret": OIDC_CLIENT_SECRET,
                    "settings": {
                        "server_url": OIDC_ISSUER,
                        "scope": OIDC_SCOPES,
                        "token_auth_method": "client_secret_post",
                    },
                }
            ]
            if OIDC_ISSUER
            else []
        ),
    }
}

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Sitecore CDP (https://doc.sitecore.com/cdp/en/developers/api/authentication-and-authorization.html)
# The base URL is one of the regional hosts, e.g. https://api-engage-eu.sitecorecloud.io, or the
# local sandbox that `make run` starts. Basic auth: client key as the user, token as the password.
CDP_BASE_URL = env.str("CDP_BASE_URL", default="http://127.0.0.1:8100")
CDP_CLIENT_KEY = env.str("CDP_CLIENT_KEY", default="")
CDP_API_TOKEN = env.str("CDP_API_TOKEN", default="")
# Which of CDP's REST APIs the CDP_* settings speak: v2 (legacy, every instance) or v2.1 (the 2.1
# data model); a connection in the admin says its own (docs/cdp-versions.md).
CDP_API_VERSION = env.str("CDP_API_VERSION", default="v2")
# The only hosts the client sends CDP credentials to (host names, no scheme or port): the four
# regional hosts by default; `make run` and the tests add the sandbox's 127.0.0.1.
CDP_ALLOWED_HOSTS = env.list("CDP_ALLOWED_HOSTS", default=list(REGIONAL_HOSTS))
# Seconds to wait for CDP to answer (read timeout) and to accept a connection (connect timeout).
CDP_TIMEOUT = env.float("CDP_TIMEOUT", default=10.0)
CDP_CONNECT_TIMEOUT = env.float("CDP_CONNECT_TIMEOUT", default=3.0)
# Retries of a failed call (cdp/resilience.py): tries per call in all, and the backoff's first
# delay and cap in seconds (full jitter). A call, retries and waits included, stays in the budget.
CDP_RETRY_ATTEMPTS = env.int("CDP_RETRY_ATTEMPTS", default=3)
CDP_RETRY_BACKOFF = env.float("CDP_RETRY_BACKOFF", default=0.25)
CDP_RETRY_BACKOFF_MAX = env.float("CDP_RETRY_BACKOFF_MAX", default=2.0)
CDP_CALL_BUDGET = env.float("CDP_CALL_BUDGET", default=15.0)
# Circuit breaker: after this many failed calls in a row, calls fail at once for the cool-off
# (seconds), then one trial call decides. Its state is in the default cache.
CDP_BREAKER_THRESHOLD = env.int("CDP_BREAKER_THRESHOLD", default=5)
CDP_BREAKER_COOLDOWN = env.float("CDP_BREAKER_COOLDOWN", default=30.0)
# Order refs the home page offers as examples; `make run` fills it with the sandbox's demo orders.
CDP_DEMO_ORDER_REFS = env.list("CDP_DEMO_ORDER_REFS", default=[])

# Keys that encrypt the CDP API tokens stored in the database (docs/credentials.md): base64 of
# 32 random bytes each, comma-separated; the first encrypts, all decrypt. Never SECRET_KEY. Unset,
# a DEBUG run falls back to a development key and production fails when a token is used.
FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY", default=[])

# --- Shared state and background work: one switch per engine (docs/operations.md) -----------
# REDIS_URL set (redis://host:6379/0): Redis is the cache, so every process shares one CDP circuit
# breaker, the queue's wake-up flags and, with SESSION_ENGINE=...cached_db, the session cache.
# Unset: each process keeps its own in memory (one machine), or CACHE_URL names another cache.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "core.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            # Short socket timeouts: a Redis that stops answering costs a request a second, not
            # a hung worker (the breaker then stays closed, cdp/resilience.py).
            "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 1.0},
            "KEY_PREFIX": "backoffice",
        }
    }
else:
    CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# Background work (django.tasks). Two queues, each with its own workers, so that a bulk refresh
# of 10,000 consumers never delays an agent's queued edit: `pushes` (latency) and `bulk`
# (throughput). `python manage.py tasks_worker pushes` runs the worker of the backend chosen here;
# nothing outside this section names a backend.
#   TASKS_BACKEND=database (default): django-tasks-db, tasks are rows in the database; no other
#     service needed. The task's row commits together with the push that queued it.
#   TASKS_BACKEND=rq: Redis Queue through django-tasks-rq (needs REDIS_URL); tasks are queued
#     once the push's transaction commits, so a worker never sees a task before its push.
TASKS_QUEUES = ["pushes", "bulk"]
TASKS_BACKEND = env.str("TASKS_BACKEND", default="database")
if TASKS_BACKEND in ("database", "django_tasks_db.DatabaseBackend"):
    TASKS_BACKEND = "database"
    INSTALLED_APPS.append("django_tasks_db")
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": TASKS_QUEUES}}
    # {queues}: the queues a worker serves, comma-separated.
    TASKS_WORKER_COMMAND = ["db_worker", "--queue-name", "{queues}", "--interval", "0.5"]
    TASKS_WORKER_BURST = ["--batch", "--no-startup-delay"]
    TASKS_ENQUEUE_ON_COMMIT = False
    TASKS_SCHEDULE_RESOLUTION = 0.0
elif TASKS_BACKEND == "rq":
    if not REDIS_URL:
        raise ImproperlyConfigured("TASKS_BACKEND=rq needs REDIS_URL (redis://host:6379/0).")
    INSTALLED_APPS.append("django_rq")
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": TASKS_QUEUES}}
    # A bulk refresh of BULK_REFRESH_MAX_REFS consumers runs for minutes: RQ's default job
    # timeout (3 minutes) would kill it halfway. An edit's try ends within CDP's call budget.
    RQ_QUEUES = {
        "pushes": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 300},
        "bulk": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 6 * 3600},
    }
    # --with-scheduler: a task queued for later (an edit's next try) is moved onto its queue when
    # due by whichever worker holds the queue's scheduler lock.
    TASKS_WORKER_COMMAND = [
        "rqworker", "{queue_args}", "--job-class", "django_tasks_rq.Job", "--with-scheduler",
        "--worker-class", "backoffice.launch.rq_worker.Worker",
    ]  # fmt: skip
    TASKS_WORKER_BURST = ["--burst"]
    TASKS_ENQUEUE_ON_COMMIT = True
    # No django-rq dashboard in the admin: its pages (requeue, delete jobs) would sit outside the
    # roles, the permission matrix and the audit log. `manage.py rqstats` shows the queues.
    RQ_SHOW_ADMIN_LINK = False
    # RQ keeps a task's due time in whole seconds (core/tasks.py rounds up to it).
    TASKS_SCHEDULE_RESOLUTION = 1.0
else:
    raise ImproperlyConfigured("TASKS_BACKEND must be database or rq.")
# /readyz fails when no worker of a queue has been seen for this long (seconds); each worker
# says it is alive every 10 seconds.
TASKS_WORKER_SEEN_SECONDS = env.int("TASKS_WORKER_SEEN_SECONDS", default=60)
# How many CDP calls one page or one bulk refresh makes at once (an order's consumers).
CDP_CONCURRENCY = env.int("CDP_CONCURRENCY", default=8)
# The identifier providers (guests' `identifiers[].provider`) a loyalty or member id typed in the
# search box is looked up under, in CDP's guest search.
CDP_IDENTIFIER_PROVIDERS = env.list("CDP_IDENTIFIER_PROVIDERS", default=["loyalty"])
# The most consumers one bulk refresh takes (a pasted list or an uploaded CSV).
BULK_REFRESH_MAX_REFS = env.int("BULK_REFRESH_MAX_REFS", default=10_000)
# A bulk refresh that has not moved for this long lost its worker; requeue_pushes restarts it.
BULK_REFRESH_STALL_SECONDS = env.int("BULK_REFRESH_STALL_SECONDS", default=600)
# The longest one page may wait for CDP, all its calls and retries together (seconds).
CDP_PAGE_BUDGET = env.float("CDP_PAGE_BUDGET", default=20.0)
# Pending pushes: how many times the worker tries an edit CDP could not take, and how long it waits
# between tries (exponential, from the first delay up to the longest).
PUSH_MAX_ATTEMPTS = env.int("PUSH_MAX_ATTEMPTS", default=8)
PUSH_RETRY_DELAY = env.float("PUSH_RETRY_DELAY", default=30.0)
PUSH_RETRY_DELAY_MAX = env.float("PUSH_RETRY_DELAY_MAX", default=900.0)
# While edits wait, the oldest is tried again this often (seconds) without using up its tries, so
# the queue finds CDP back within seconds even when nothing else calls it (docs/reliability.md).
PUSH_PROBE_INTERVAL = env.float("PUSH_PROBE_INTERVAL", default=5.0)
# How long one save may hold a consumer against other saves of the same consumer (seconds).
PUSH_LOCK_SECONDS = env.float("PUSH_LOCK_SECONDS", default=60.0)

# Personal data in the cache: copies of consumers nobody has opened for this many days are
# dropped by `python manage.py purge_cache` (run it daily). The audit log is kept.
CACHE_RETENTION_DAYS = env.int("CACHE_RETENTION_DAYS", default=30)

# The audit log (docs/security.md). Checkpoints of the hash chain are signed with this key, which
# must live outside the database (an environment variable or a secrets manager), so whoever can
# rewrite the database still cannot forge a checkpoint.
AUDIT_CHECKPOINT_KEY = env.str("AUDIT_CHECKPOINT_KEY", default="")
# The key-encryption keys of the per-person keys that encrypt personal values in audit entries
# (docs/privacy.md): base64 of 32 random bytes each, comma-separated; the first wraps, all unwrap.
# Unset, keys derived from FIELD_ENCRYPTION_KEY serve. Kept outside the database, like both.
AUDIT_KEY = env.list("AUDIT_KEY", default=[])
# Failed sign-ins and refused pages, which anyone can repeat at will: the first per user name and
# address in a window of this many minutes is an entry, the rest one summary entry after the
# window (appended by the next such event or by verify_audit). 0: every one is an entry.
AUDIT_REPEAT_WINDOW_MINUTES = env.int("AUDIT_REPEAT_WINDOW_MINUTES", default=15)

# Logs go to stderr, one JSON object per line with the request id (core/logging.py), with
# tokens, credentials, e-mail addresses, phone and passport numbers masked. LOG_FORMAT=plain gives
# readable lines for development (`make run` sets it).
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured("LOG_FORMAT must be json or plain.")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "core.logging.RequestIdFilter"},
        "redact": {"()": "core.logging.RedactingFilter"},
    },
    "formatters": {
        "json": {"()": "core.logging.JSONFormatter"},
        "plain": {"()": "core.logging.PlainFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "redact"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own handlers (a second console in DEBUG, e-mail to admins with the request's
        # data) would write unmasked: its records go to the console above like all others.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.server": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        # At DEBUG these quote SQL parameters and template context, that is record content.
        "django.db.backends": {"level": "INFO" if LOG_LEVEL == "DEBUG" else LOG_LEVEL},
        "django.template": {"level": "INFO" if LOG_LEVEL == "DEBUG" else LOG_LEVEL},
        # django-axes announces its configuration each time a process starts: noise, not news.
        "axes.apps": {"level": "WARNING"},
    },
}
