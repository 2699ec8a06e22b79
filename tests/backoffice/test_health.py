"""Liveness and readiness probes: no sign-in, no data, and readiness says what is missing."""

from datetime import timedelta

from django.db import DatabaseError
from django.utils import timezone

from backoffice import health
from core.models import WorkerHeartbeat
from core.workers import worker_heartbeat
from tests.conftest import workers_alive

EVERYTHING_OK = {
    "status": "ready",
    "database": "ok",
    "migrations": "ok",
    "cdp": "ok",
    "cache": "ok",
    "workers": "ok",
}


def test_liveness_answers_without_sign_in_or_database(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.content == b"ok\n"


def test_readiness_checks_database_migrations_cdp_cache_and_workers(client, db):
    workers_alive()

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == EVERYTHING_OK


def test_readiness_fails_without_cdp_credentials(client, db, settings):
    workers_alive()
    settings.CDP_API_TOKEN = ""

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["cdp"] == "failing"


def test_readiness_fails_until_a_worker_of_each_queue_was_seen(client, db):
    worker_heartbeat(queues=["pushes"], worker="web-1:40")

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["workers"] == "failing"


def test_readiness_fails_when_the_last_worker_of_a_queue_was_seen_too_long_ago(
    client, db, settings
):
    workers_alive()
    WorkerHeartbeat.objects.filter(queue="bulk").update(
        seen_at=timezone.now() - timedelta(seconds=settings.TASKS_WORKER_SEEN_SECONDS + 1)
    )

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["workers"] == "failing"


class _DownCache:
    def set(self, *args, **kwargs):
        raise ConnectionError("Redis is restarting")


def test_readiness_fails_when_the_cache_is_unreachable(client, db, monkeypatch):
    workers_alive()
    monkeypatch.setattr(health, "caches", {"default": _DownCache()})

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["cache"] == "failing"


class _DownDatabase:
    def cursor(self):
        raise DatabaseError("connection refused")


def test_readiness_fails_when_the_database_is_down(client, db, monkeypatch):
    monkeypatch.setattr(health, "connection", _DownDatabase())

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "not ready",
        "database": "failing",
        "migrations": "failing",
        "cdp": "failing",
        "cache": "ok",
        "workers": "failing",
    }


def test_readiness_fails_with_unapplied_migrations(client, db, monkeypatch):
    monkeypatch.setattr(health, "_migrations_applied", False)
    monkeypatch.setattr(
        health.MigrationExecutor, "migration_plan", lambda self, targets: ["pending"]
    )

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["migrations"] == "failing"
