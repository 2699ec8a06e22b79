"""Shared fixtures: the CDP sandbox over real HTTP, the API version spoken, one persona per role."""

from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.cache import caches
from django.core.management import call_command
from django.urls import reverse

from accounts import roles
from cdp_sandbox import seed
from cdp_sandbox.server import Sandbox
from core.management.commands.tasks_worker import worker_arguments
from core.workers import worker_heartbeat

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

# The versions of CDP's REST API the client speaks; `api_version` runs a test in each.
API_VERSIONS = ("v2", "v2.1")


def cdp_path(*segments: str) -> str:
    """Return the path of a resource in either API version, as a pattern for
    `Sandbox.requests_to` and `Fault.path` (e.g. `cdp_path("orderConsumers", ".*")`)."""
    return r"/v2(?:\.1)?/" + "/".join(segments)


def update_method() -> str:
    """Return the method a consumer's save is sent with in the API version under test."""
    from django.conf import settings

    return "PATCH" if settings.CDP_API_VERSION == "v2.1" else "POST"


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


@pytest.fixture(params=API_VERSIONS)
def api_version(request, settings):
    """Speak each of CDP's API versions in turn (through the CDP_* settings): a module asks for
    it with `pytestmark = pytest.mark.usefixtures("api_version")`."""
    settings.CDP_API_VERSION = request.param
    return request.param


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
def nothing_needs_approval(db):
    """An approval policy holding no field, as an administrator may set it: every save goes to
    CDP at once (by default Guest and Order items wait for a supervisor, tests/approvals)."""
    from approvals.services import approval_policy_get

    policy = approval_policy_get()
    policy.fields = []
    policy.save()
    return policy


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


def run_worker(queues: list[str] | None = None):
    """Run the configured backend's real worker until nothing is due (`tasks_worker --burst`).

    In this process, on the test's database connection: like Django's test client, it must not
    close that connection mid-test, and the RQ worker runs each task in-process, not in a fork.
    """
    command, *arguments = worker_arguments(queues or settings.TASKS_QUEUES, burst=True)
    if settings.TASKS_BACKEND == "rq":
        arguments += ["--worker-class", "rq.worker.SimpleWorker"]
        closer = "django_rq.management.commands.rqworker.reset_db_connections"
    else:
        closer = "django_tasks_db.management.commands.db_worker.close_old_connections"
    with mock.patch(closer):
        call_command(command, *arguments, verbosity=0)


@pytest.fixture(autouse=True)
def tasks_queued_at_once(request, settings):
    """In a test inside one transaction, which never commits, queue tasks at once.

    With a backend that queues after the commit (core/tasks.py) nothing would ever be queued; the
    in-process worker shares the test's connection, so it sees the uncommitted rows anyway.
    tests/core/test_tasks.py checks the after-commit queueing in transactional tests.
    """
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(
        marker and (marker.kwargs.get("transaction") or marker.args[:1] == (True,))
    )
    if not transactional:
        settings.TASKS_ENQUEUE_ON_COMMIT = False


def queued_tasks() -> list[str]:
    """The import paths of the tasks waiting in any queue, due or not, oldest first."""
    if settings.TASKS_BACKEND == "rq":
        import django_rq
        from rq.job import Job
        from rq.registry import ScheduledJobRegistry

        paths: list[str] = []
        for name in settings.TASKS_QUEUES:
            queue = django_rq.get_queue(name)
            ids = queue.job_ids + ScheduledJobRegistry(queue=queue).get_job_ids()
            jobs = Job.fetch_many(ids, connection=queue.connection)
            paths += [str(job.func_name) for job in jobs if job is not None]
        return paths
    from django_tasks_db.models import DBTaskResult

    waiting = DBTaskResult.objects.filter(status="READY").order_by("enqueued_at")
    return list(waiting.values_list("task_path", flat=True))


def drop_queued_tasks() -> None:
    """Lose every waiting task, as when a worker or the queue's store died with them."""
    if settings.TASKS_BACKEND == "rq":
        import django_rq
        from rq.registry import ScheduledJobRegistry

        for name in settings.TASKS_QUEUES:
            queue = django_rq.get_queue(name)
            queue.empty()
            queue.connection.delete(ScheduledJobRegistry(queue=queue).key)
        return
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.all().delete()


database_tasks_only = pytest.mark.skipif(
    settings.TASKS_BACKEND != "database",
    reason="about the rows of the database tasks backend (TASKS_BACKEND=database)",
)


def workers_alive() -> None:
    """Have a worker of every queue say it is alive, as `tasks_worker` does every 10 seconds."""
    worker_heartbeat(queues=settings.TASKS_QUEUES, worker="tests:1")
