"""Liveness and readiness probes: no sign-in, no data, and readiness says what is missing."""

from django.db import DatabaseError

from backoffice import health


def test_liveness_answers_without_sign_in_or_database(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.content == b"ok\n"


def test_readiness_checks_database_migrations_and_cdp(client, db):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "migrations": "ok", "cdp": "ok"}


def test_readiness_fails_without_cdp_credentials(client, db, settings):
    settings.CDP_API_TOKEN = ""

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["cdp"] == "failing"


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
    }


def test_readiness_fails_with_unapplied_migrations(client, db, monkeypatch):
    monkeypatch.setattr(health, "_migrations_applied", False)
    monkeypatch.setattr(
        health.MigrationExecutor, "migration_plan", lambda self, targets: ["pending"]
    )

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["migrations"] == "failing"
