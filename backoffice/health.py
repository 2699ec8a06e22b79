"""Liveness and readiness probes for load balancers and orchestrators: no sign-in, no data."""

import uuid

from django.conf import settings
from django.core.cache import caches
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

_migrations_applied = False


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Say the process is up, touching nothing else."""
    return HttpResponse("ok\n", content_type="text/plain")


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError:
        return False


def _migrations_ok() -> bool:
    # Once every migration is applied it stays so for this process's code, so it is checked once.
    global _migrations_applied
    if not _migrations_applied:
        executor = MigrationExecutor(connection)
        targets = executor.loader.graph.leaf_nodes()
        _migrations_applied = not executor.migration_plan(targets)
    return _migrations_applied


def _cdp_configured() -> bool:
    from cdp.hosts import host_refusal
    from cdp.models import CDPConnection

    # A CDP on a host CDP_ALLOWED_HOSTS does not list would refuse every call: not ready.
    active = CDPConnection.objects.filter(is_active=True).first()
    if active is not None:
        return not host_refusal(active.base_url)
    if host_refusal(settings.CDP_BASE_URL.rstrip("/")):
        return False
    return bool(settings.CDP_BASE_URL and settings.CDP_CLIENT_KEY and settings.CDP_API_TOKEN)


def _cache_ok() -> bool:
    # A round trip through the default cache (Redis with REDIS_URL): it holds the CDP circuit
    # breaker every process shares and, with cached_db sessions, the session cache.
    key, value = "readyz:probe", uuid.uuid4().hex
    try:
        cache = caches["default"]
        cache.set(key, value, timeout=10)
        return cache.get(key) == value
    except Exception:
        return False


def _workers_ok() -> bool:
    from core.workers import queues_unserved

    return not queues_unserved()


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Say whether this instance can serve: database, migrations, CDP, cache and workers."""
    checks = {"database": _database_ok()}
    checks["migrations"] = checks["database"] and _migrations_ok()
    checks["cdp"] = checks["database"] and _cdp_configured()
    checks["cache"] = _cache_ok()
    # A worker of each queue (pushes, bulk) said it was alive lately (core/workers.py).
    checks["workers"] = checks["migrations"] and _workers_ok()
    ready = all(checks.values())
    body = {"status": "ready" if ready else "not ready"}
    body.update({name: "ok" if passed else "failing" for name, passed in checks.items()})
    return JsonResponse(body, status=200 if ready else 503)
