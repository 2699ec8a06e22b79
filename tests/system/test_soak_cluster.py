"""Multi-node soak (`make soak-cluster`): HAProxy round-robin in front of two gunicorn app nodes,
two push workers and one bulk worker, PostgreSQL and a Redis of the soak's own.

8 agents make 3,000 edits of 200 consumers through the load balancer while about a fifth of CDP's
answers fail and a bulk refresh of 5,000 consumers runs; one push worker is killed with SIGKILL
and restarted, Redis is restarted once, and CDP refuses every update during the last fifteenth
of the edits. Then CDP recovers. Required: no edit lost, none
applied twice, CDP holding each consumer's last succeeded edit, the audit chain verifying, and
every edit still queued when CDP recovered delivered within 60 s. The figures are printed and
recorded in docs/reliability.md.

Runs on demand only (SOAK_CLUSTER=1, which `make soak-cluster` sets, once per tasks backend).
Needs PostgreSQL, `redis-server` and `haproxy` on this machine; REDIS_URL names the port of the
soak's own Redis (it is started, and restarted, here: never the machine's shared one).
"""

import contextlib
import copy
import io
import os
import random
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, deque
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
import requests
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from audit.models import AuditEntry
from bench.html_forms import form_fields
from cdp_sandbox.server import Fault
from consumers import bulk
from consumers.models import BulkRefresh, Push
from tests.conftest import CONSUMER_REF
from tests.system import nodes

# SOAK_EDITS / SOAK_BULK_REFS make a shorter try-out run; the figures recorded are at the defaults.
EDITS = int(os.environ.get("SOAK_EDITS", "3000"))
# The last edits meet an outage of CDP's updates, so that edits are queued when it recovers.
OUTAGE_EDITS = EDITS // 15
BULK_REFS = int(os.environ.get("SOAK_BULK_REFS", "5000"))
CONSUMERS, AGENTS, SEED = 200, 8, 2026
CONSUMER = "/v2/orderConsumers/.*"
# About a fifth of CDP's answers fail, one way or another (drawn from the sandbox's seeded random).
FAULTS = [
    Fault(method="POST", path=CONSUMER, status=503, fraction=0.04, times=None),
    Fault(method="POST", path=CONSUMER, latency=0.8, fraction=0.03, times=None),
    Fault(method="POST", path=CONSUMER, reset=True, fraction=0.02, times=None),
    Fault(method="GET", path=CONSUMER, status=502, fraction=0.03, times=None),
    Fault(method="GET", path=CONSUMER, status=429, retry_after=0, fraction=0.02, times=None),
    Fault(method="GET", path=CONSUMER, malformed=True, fraction=0.02, times=None),
    Fault(method="GET", path=CONSUMER, truncated=True, fraction=0.02, times=None),
    Fault(method="GET", path=CONSUMER, change={"firstName": "Other"}, fraction=0.02, times=None),
]
# The app's settings in every process of the soak: short timeouts and retry delays, so that an
# outage of a few seconds shows within the run; requeue_pushes (run every REQUEUE_EVERY seconds,
# as cron would every 5 minutes) takes over an attempt older than twice PUSH_LOCK_SECONDS.
APP_SETTINGS = {
    "CDP_TIMEOUT": "0.5",
    # One call, its retries included, ends well within the push lock (PUSH_LOCK_SECONDS).
    "CDP_CALL_BUDGET": "2",
    "CDP_PAGE_BUDGET": "8",
    "CDP_RETRY_ATTEMPTS": "3",
    "CDP_RETRY_BACKOFF": "0.01",
    "CDP_RETRY_BACKOFF_MAX": "0.05",
    "CDP_BREAKER_THRESHOLD": "5",
    "CDP_BREAKER_COOLDOWN": "1",
    "PUSH_RETRY_DELAY": "0.5",
    "PUSH_RETRY_DELAY_MAX": "4",
    "PUSH_MAX_ATTEMPTS": "30",
    "PUSH_PROBE_INTERVAL": "2",
    "PUSH_LOCK_SECONDS": "5",
    "AUDIT_CHECKPOINT_KEY": "soak",
    "SESSION_ENGINE": "django.contrib.sessions.backends.cached_db",
    "TRUSTED_PROXY_COUNT": "1",
    "CONN_MAX_AGE": "60",
}
REQUEUE_EVERY = 10.0

pytestmark = [
    pytest.mark.soak_cluster,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        os.environ.get("SOAK_CLUSTER") != "1", reason="on demand only: make soak-cluster"
    ),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL"),
]


class OwnRedis:
    """A redis-server of the soak's own on REDIS_URL's port, with an append-only file."""

    def __init__(self, url: str, folder: Path):
        parts = urlsplit(url)
        port = parts.port or 6379
        assert parts.hostname == "127.0.0.1", f"REDIS_URL={url}: the soak's Redis runs here"
        assert port != 6379, (
            f"REDIS_URL={url}: the soak restarts its Redis, so it must be one of its own "
            "(make soak-cluster uses 127.0.0.1:18660), never the machine's shared 6379"
        )
        self.port, self.folder = port, folder
        self.process: subprocess.Popen | None = None
        self.client = redis.Redis(port=self.port, socket_connect_timeout=1)

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(self.folder)],
            stdout=(self.folder / "redis.log").open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        nodes.wait_for(self._answers, 10, "Redis to start")

    def _answers(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False

    def restart(self) -> float:
        """Stop Redis (it writes its append-only file) and start it again; return the seconds."""
        started = time.monotonic()
        self.stop()
        self.start()
        return time.monotonic() - started

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            with contextlib.suppress(redis.ConnectionError):  # it hangs up as it goes
                self.client.shutdown()
            self.process.wait(timeout=15)


@pytest.fixture(scope="module", autouse=True)
def own_redis(tmp_path_factory):
    if not (shutil.which("redis-server") and shutil.which("haproxy")):
        pytest.skip("needs redis-server and haproxy (apt-get install redis-server haproxy)")
    server = OwnRedis(settings.REDIS_URL, tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


def add_consumers(sandbox, count: int, prefix: str) -> list[str]:
    template = sandbox.data.consumers[CONSUMER_REF]
    refs = []
    for number in range(count):
        ref = str(uuid.UUID(int=random.Random(f"{prefix}-{number}").getrandbits(128), version=4))
        record = copy.deepcopy(template)
        record.update(ref=ref, firstName=f"{prefix}{number}", lastName="Original")
        sandbox.data.consumers[ref] = record
        refs.append(ref)
    return refs


class Supervisor(threading.Thread):
    """Restart a worker that died, as systemd's Restart=always does, and run requeue_pushes."""

    def __init__(self, workers: list[nodes.Process], env: dict[str, str], log: Path):
        super().__init__(daemon=True)
        self.workers, self.env, self.log = workers, env, log
        self.stopped = threading.Event()
        self.held: set[str] = set()  # workers the soak keeps down on purpose
        self.restarts: Counter[str] = Counter()
        self.requeued = 0

    def run(self) -> None:
        next_requeue = time.monotonic() + REQUEUE_EVERY
        while not self.stopped.wait(0.5):
            for worker in self.workers:
                assert worker.popen is not None
                if worker.name not in self.held and worker.popen.poll() is not None:
                    self.restarts[worker.name] += 1
                    worker.start()
            if time.monotonic() >= next_requeue:
                next_requeue = time.monotonic() + REQUEUE_EVERY
                done = subprocess.run(
                    [sys.executable, "manage.py", "requeue_pushes"], cwd=nodes.ROOT,
                    env=self.env, capture_output=True, text=True,
                )  # fmt: skip
                self.requeued += int(done.stdout.split()[1]) if done.returncode == 0 else 0


def test_a_cluster_loses_no_edit_and_sends_none_twice_through_crashes_and_faults(
    sandbox, own_redis, django_user_model, settings, tmp_path, monkeypatch
):
    for name, value in APP_SETTINGS.items():
        if hasattr(settings, name):  # this process's copy (CONN_MAX_AGE is the nodes' only)
            setattr(settings, name, type(getattr(settings, name))(value))
    monkeypatch.setattr(sandbox, "requests", deque(maxlen=2_000_000))  # keep every request
    refs = add_consumers(sandbox, CONSUMERS, "Traveller")
    bulk_refs = add_consumers(sandbox, BULK_REFS, "Bulk")
    agents = [
        django_user_model.objects.create_user(username=f"agent{n}", password=f"agent{n}-password")
        for n in range(AGENTS)
    ]
    from accounts import roles

    roles.ensure_roles()
    for agent in agents:
        agent.groups.add(roles_group(roles.CUSTOMER_SERVICE))
    supervisor = django_user_model.objects.create_user(username="supervisor")
    env = nodes.node_env(sandbox, **APP_SETTINGS)
    node_env = {**env, "WEB_THREADS": "4"}
    ports = [int(os.environ.get(f"SOAK_APP_PORT_{n}", 18650 + n)) for n in (1, 2)]
    balancer_port = int(os.environ.get("SOAK_HAPROXY_PORT", "18650"))
    processes: list[nodes.Process] = []
    supervisor_thread = None
    try:
        processes += [nodes.web_node(node_env, port, tmp_path) for port in ports]
        workers = [
            nodes.worker(env, "pushes", tmp_path, 1),
            nodes.worker(env, "pushes", tmp_path, 2),
            nodes.worker(env, "bulk", tmp_path, 1),
        ]
        processes += workers
        haproxy_env = {
            **os.environ,
            "HAPROXY_BIND": f"127.0.0.1:{balancer_port}",
            "BACKOFFICE_APP_1": f"127.0.0.1:{ports[0]}",
            "BACKOFFICE_APP_2": f"127.0.0.1:{ports[1]}",
        }
        balancer = nodes.Process(
            ["haproxy", "-db", "-f", str(nodes.ROOT / "deploy" / "haproxy.cfg")],
            haproxy_env, "haproxy", tmp_path / "haproxy.log",
        )  # fmt: skip
        processes.append(balancer)
        base = f"http://127.0.0.1:{balancer_port}"
        # The nodes are ready (HAProxy's health checks: /readyz) once a worker of each queue beat.
        nodes.wait_for(lambda: _ready(base), 60, "HAProxy to find the nodes ready")
        supervisor_thread = Supervisor(workers, env, tmp_path)
        supervisor_thread.start()

        for fault in FAULTS:
            sandbox.inject(copy.copy(fault))
        job = bulk.bulk_refresh_start(user=supervisor, refs=bulk_refs)
        figures = run_agents(base, refs, agents, workers, own_redis, supervisor_thread, sandbox)

        # CDP recovers; every edit still queued must be delivered within 60 s.
        sandbox.clear_faults()
        recovered = time.monotonic()
        waiting_at_recovery = set(
            Push.objects.filter(status__in=Push.WAITING).values_list("pk", flat=True)
        )
        nodes.wait_for(
            lambda: not Push.objects.filter(status__in=Push.WAITING).exists(),
            60, "every queued edit to be delivered after CDP recovered", step=0.25,
        )  # fmt: skip
        drained_after = time.monotonic() - recovered
        nodes.wait_for(
            lambda: BulkRefresh.objects.get(pk=job.pk).status == BulkRefresh.Status.FINISHED,
            600, "the bulk refresh to finish", step=1,
        )  # fmt: skip
    except BaseException:
        for process in processes:
            print(f"\n--- {process.name} ---\n{process.output()[-1500:]}")
        raise
    finally:
        if supervisor_thread:
            supervisor_thread.stopped.set()
            supervisor_thread.join(timeout=30)
        for process in processes:
            process.stop()

    check_and_report(
        sandbox, refs, figures, waiting_at_recovery, drained_after, job, supervisor_thread
    )


def roles_group(name: str):
    from django.contrib.auth.models import Group

    return Group.objects.get(name=name)


def _ready(base: str) -> bool:
    try:
        return requests.get(f"{base}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def run_agents(base, refs, agents, workers, own_redis, supervisor, sandbox) -> dict:
    """8 agents' edits through the load balancer; a push worker and Redis go down meanwhile."""
    posted: dict[str, int] = {}  # each edit's new last name → the status of its POST
    unanswered: list[str] = []
    reloads: Counter[int] = Counter()
    progress = Counter[str]()
    started = time.monotonic()

    def agent_work(number: int) -> None:
        rng = random.Random(SEED + number)
        browser = requests.Session()
        nodes.sign_in(browser, base, agents[number].username, f"agent{number}-password")
        for edit in range(number, EDITS, AGENTS):
            ref, new_name = rng.choice(refs), f"Edit{edit:04d}"
            url = f"{base}/consumers/{ref}/edit/"
            for _ in range(60):  # the agent reloads until the page shows CDP's current version
                page = browser.get(url, timeout=60)
                if page.status_code == 200 and "Showing the copy fetched" not in page.text:
                    break
                reloads[number] += 1
                time.sleep(0.1)
            else:
                raise AssertionError(f"agent {number} could not load {ref}")
            fields = form_fields(page.text)
            fields["last_name"] = new_name
            try:
                answer = browser.post(
                    url, data=fields, headers={"Referer": url}, allow_redirects=False, timeout=60
                )
                posted[new_name] = answer.status_code
            except requests.RequestException:
                unanswered.append(new_name)
            progress["edits"] += 1

    threads = [threading.Thread(target=agent_work, args=(n,)) for n in range(AGENTS)]
    for thread in threads:
        thread.start()
    killed_at = redis_restart = outage = None
    victim = workers[0]
    while any(thread.is_alive() for thread in threads):
        time.sleep(0.2)
        if killed_at is None and progress["edits"] >= EDITS // 3:
            supervisor.held.add(victim.name)
            victim.kill()  # SIGKILL to the worker, its work horse and its scheduler
            killed_at = time.monotonic()
        if killed_at and victim.name in supervisor.held and time.monotonic() - killed_at > 5:
            victim.start()
            supervisor.held.discard(victim.name)
        if redis_restart is None and progress["edits"] >= 2 * EDITS // 3:
            redis_restart = own_redis.restart()
        if outage is None and progress["edits"] >= EDITS - OUTAGE_EDITS:
            outage = sandbox.inject(Fault(method="POST", path=CONSUMER, status=503, times=None))
    for thread in threads:
        thread.join()
    return {
        "started": started,
        "agents_done": time.monotonic() - started,
        "posted": posted,
        "unanswered": unanswered,
        "reloads": sum(reloads.values()),
        "redis_restart": redis_restart,
        "killed": killed_at is not None,
    }


def check_and_report(
    sandbox, refs, figures, waiting_at_recovery, drained_after, job, supervisor
) -> None:
    posted, unanswered = figures["posted"], figures["unanswered"]
    assert figures["killed"]
    assert figures["redis_restart"] is not None
    assert waiting_at_recovery, "nothing was queued when CDP recovered: the soak proved nothing"
    assert len(posted) + len(unanswered) == EDITS
    assert unanswered == [], f"{len(unanswered)} saves got no answer from the load balancer"
    assert set(Counter(posted.values())) <= {200, 302}, Counter(posted.values())

    # Not lost: every edit the agents saved has its push row, settled.
    edits: dict[str, Push] = {}
    for push in Push.objects.all():
        name = push.changes["last_name"][1]
        assert name not in edits, f"{name} has two push rows"
        edits[name] = push
    assert set(edits) == set(posted), "an edit has no push row"
    finals = Counter(push.status for push in edits.values())
    assert set(finals) <= {Push.Status.SUCCEEDED, Push.Status.CONFLICT, Push.Status.FAILED}, finals
    assert all(push.error for push in edits.values() if push.status == Push.Status.FAILED)

    # The audit log: one final entry per edit; the last succeeded edit of each consumer.
    final_entries: Counter[str] = Counter()
    last_success: dict[str, tuple[int, str]] = {}
    for entry in (
        AuditEntry.objects.filter(action="edit")
        .exclude(outcome="pending")
        .prefetch_related("changes")
    ):
        name = next(c.new_value for c in entry.changes.all() if c.field == "last_name")
        final_entries[name] += 1
        if (
            entry.outcome == "succeeded"
            and entry.sequence > last_success.get(entry.consumer_ref, (0, ""))[0]
        ):
            last_success[entry.consumer_ref] = (entry.sequence, name)
    assert all(count == 1 for count in final_entries.values()), final_entries.most_common(3)
    assert set(final_entries) == set(edits)

    # Not applied twice: CDP took each edit's update at most once; it holds the last success.
    applied = Counter(
        request.body["lastName"]
        for request in sandbox.requests_to("POST", CONSUMER)
        if request.status == 201 and str(request.body.get("lastName", "")).startswith("Edit")
    )
    assert all(count == 1 for count in applied.values()), applied.most_common(3)
    wrong = [
        ref for ref in refs
        if sandbox.consumer(ref)["lastName"] != last_success.get(ref, (0, "Original"))[1]
    ]  # fmt: skip
    assert wrong == [], f"{len(wrong)} consumers do not hold their last succeeded edit"

    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert "chain and checkpoints intact" in out.getvalue()
    assert drained_after <= 60

    job.refresh_from_db()
    queued_once = sum(1 for push in edits.values() if push.queued_at)
    attempts = sum(push.attempts for push in edits.values())
    statuses = Counter(request.status for request in sandbox.requests)
    print(
        f"\nCluster soak ({settings.TASKS_BACKEND} tasks backend): {EDITS} edits of {CONSUMERS}"
        f" consumers by {AGENTS} agents through HAProxy and 2 app nodes in"
        f" {figures['agents_done']:.1f} s\n"
        f"  answers to the saves: {dict(Counter(posted.values()))}; page reloads: "
        f"{figures['reloads']}\n"
        f"  final: {dict(Counter(str(s) for s in finals.elements()))}; queued at least once: "
        f"{queued_once}; attempts: {attempts}\n"
        f"  push worker SIGKILLed and restarted; Redis restarted in "
        f"{figures['redis_restart']:.1f} s;"
        f" workers restarted by the supervisor: {dict(supervisor.restarts) or 0};"
        f" requeue_pushes re-queued {supervisor.requeued}\n"
        f"  queued when CDP recovered: {len(waiting_at_recovery)}, all delivered after "
        f"{drained_after:.1f} s\n"
        f"  bulk refresh of {job.total}: {job.status}, {job.done} done, {job.failed} failed, "
        f"in {(job.finished_at - job.created_at).total_seconds():.0f} s\n"
        f"  CDP requests: {len(sandbox.requests)}, by answer: {dict(sorted(statuses.items()))}\n"
        f"  updates applied by CDP: {sum(applied.values())} (each edit at most once)\n"
        f"  audit entries: {AuditEntry.objects.count()}, chain verified"
    )
