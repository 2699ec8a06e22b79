"""Every response carries the security headers; cookies are locked down under HTTPS."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import CONSUMER_REF

HTTPS_SETTINGS = {
    "SECURE_SSL_REDIRECT": True,
    "SECURE_HSTS_SECONDS": 31_536_000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SECURE_HSTS_PRELOAD": True,
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
    "SESSION_COOKIE_NAME": "__Host-sessionid",
    "CSRF_COOKIE_NAME": "__Host-csrftoken",
}


@pytest.fixture
def https(settings):
    """The production cookie and transport settings (tests otherwise speak plain HTTP)."""
    for name, value in HTTPS_SETTINGS.items():
        setattr(settings, name, value)
    return Client()


def test_every_page_has_a_strict_content_security_policy(agent_client):
    response = agent_client.get(reverse("consumers:detail", kwargs={"ref": CONSUMER_REF}))

    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]


def test_pages_carry_nosniff_referrer_policy_and_no_framing(agent_client):
    response = agent_client.get(reverse("consumers:home"))

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.parametrize("name", ["consumers:detail", "consumers:edit"])
def test_pages_with_personal_data_are_never_cached(agent_client, name):
    response = agent_client.get(reverse(name, kwargs={"ref": CONSUMER_REF}))

    assert response["Cache-Control"] == "no-store"


def test_the_templates_have_no_inline_script_or_style(agent_client):
    content = agent_client.get(
        reverse("consumers:detail", kwargs={"ref": CONSUMER_REF})
    ).content.decode()

    assert "<script>" not in content
    assert "<style" not in content
    assert " style=" not in content
    assert " onclick=" not in content


def test_https_is_enforced_with_hsts(https):
    plain = https.get(reverse("login"))
    secure = https.get(reverse("login"), secure=True)

    assert plain.status_code == 301
    assert plain["Location"].startswith("https://")
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def test_health_probes_are_not_redirected_to_https(https):
    assert Client().get("/healthz").status_code == 200


def test_cookies_are_secure_httponly_samesite_and_host_prefixed(https, agent):
    response = https.post(
        reverse("login"), {"username": "agent", "password": "agent-password"}, secure=True
    )

    session = response.cookies["__Host-sessionid"]
    assert session["secure"] is True
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"
    assert session["path"] == "/"
    assert not session["domain"]
    csrf = response.cookies["__Host-csrftoken"]  # a new token at sign-in
    assert (csrf["secure"], csrf["httponly"], csrf["samesite"]) == (True, True, "Lax")
