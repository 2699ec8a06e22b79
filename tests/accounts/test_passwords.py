"""Passwords are hashed with Argon2id in production, and must be at least 12 characters long."""

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse

from backoffice import settings as production_settings


@pytest.fixture
def production_hashers(settings):
    """The production hasher list (the suite otherwise hashes with a fast, weak one)."""
    settings.PASSWORD_HASHERS = production_settings.PASSWORD_HASHERS


def test_a_new_password_is_stored_as_argon2id(production_hashers, agent):
    agent.set_password("a-long-unusual-passphrase-42")
    agent.save()

    agent.refresh_from_db()
    assert agent.password.startswith("argon2$argon2id$")
    assert agent.check_password("a-long-unusual-passphrase-42")


def test_an_older_pbkdf2_hash_becomes_argon2_at_the_next_sign_in(production_hashers, client, agent):
    agent.password = make_password("agent-password", hasher="pbkdf2_sha256")
    agent.save()

    response = client.post(reverse("login"), {"username": "agent", "password": "agent-password"})

    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.password.startswith("argon2$argon2id$")


def test_a_password_shorter_than_12_characters_is_refused(agent):
    with pytest.raises(ValidationError, match="at least 12 characters"):
        validate_password("Vq7#kLm2pZx", user=agent)

    validate_password("Vq7#kLm2pZx9", user=agent)
