"""Shared fixtures: the CDP sandbox over real HTTP, and one persona per role."""

from unittest import mock

import pytest
from django.contrib.auth.models import Group
from django.core.cache import caches
from django.core.management import call_command
from django.urls import reverse

from accounts import roles
from cdp_sandbox import seed
from cdp_sandbox.server import Sandbox

# Seeded records the tests refer to: order 0 has three consumers, consumer 0 is its first.
ORDER_REF = seed.make_ref("order", 0)
CONSUMER_REF = seed.make_ref("consumer", 0)


def edit_url(ref: str = CONSUMER_REF) -> str:
    return reverse("consumers:edit", kwargs={"ref": ref})


def form_data(client, **changes) -> dict:
    """Return the edit form's data as the page rendered it, with some fields changed."""
    form = client.get(edit_url()).context["form"]
    return {name: form[name].value() or "" for name in form.fields} | changes


GUEST_REF = seed.make_ref("guest", 0)  # consumer 0's guest
OTHER_ORDER_REF = seed.make_ref("order", 1)
OTHER_CONSUMER_REF = seed.make_ref("consumer", 3)


@pytest.fixture(scope="session")
def sandbox_server():
    sandbox = Sandbox()
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(autouse=True)
def sandbox(sandbox_server, settings):
    """A freshly seeded sandbox that the app is pointed at, for every test."""
    sandbox_server.reset()
    settings.CDP_BASE_URL = sandbox_server.base_url
    settings.CDP_CLIENT_KEY = sandbox_server.config.client_key
    settings.CDP_API_TOKEN = sandbox_server.config.api_token
    settings.CDP_TIMEOUT = 2.0
    settings.CDP_CONNECT_TIMEOUT = 1.0
    # Real retries, with short waits so a test that makes CDP fail stays fast.
    settings.CDP_RETRY_BACKOFF = 0.01
    settings.CDP_RETRY_BACKOFF_MAX = 0.05
    # The circuit breaker keeps its state in the cache: every test starts with it closed.
    caches["default"].clear()
    return sandbox_server


def _role(name: str) -> Group:
    """Return a role's group, re-creating the roles if a transactional test flushed them."""
    if not Group.objects.filter(name=name).exists():
        roles.ensure_roles()
    return Group.objects.get(name=name)


def _user_with_role(django_user_model, username: str, role: str | None):
    user = django_user_model.objects.create_user(username=username, password=f"{username}-password")
    if role:
        user.groups.add(_role(role))
    return user


@pytest.fixture
def agent(db, django_user_model):
    return _user_with_role(django_user_model, "agent", roles.CUSTOMER_SERVICE)


@pytest.fixture
def another_agent(db, django_user_model):
    """A second customer-service agent, who must not see the first one's own work."""
    return _user_with_role(django_user_model, "another-agent", roles.CUSTOMER_SERVICE)


@pytest.fixture
def supervisor(db, django_user_model):
    return _user_with_role(django_user_model, "supervisor", roles.SUPERVISOR)


@pytest.fixture
def administrator(db, django_user_model):
    return _user_with_role(django_user_model, "administrator", roles.ADMINISTRATOR)


@pytest.fixture
def outsider(db, django_user_model):
    """A signed-in user who holds no role."""
    return _user_with_role(django_user_model, "outsider", None)


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


def run_worker():
    """Run the real tasks worker until nothing is due, as `manage.py db_worker --batch` does.

    Like Django's test client, it must not close the test's database connection mid-test.
    """
    with mock.patch("django_tasks_db.management.commands.db_worker.close_old_connections"):
        call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
