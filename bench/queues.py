"""How fast one worker of each queue works: a backlog of queued edits, and a bulk refresh.

    DATABASE_URL=postgres://... [TASKS_BACKEND=rq REDIS_URL=...] python -m bench.queues \
        [--edits 300] [--refs 2000] [--latency-ms 50] [--workers 1 2]

With CDP answering after `--latency-ms`, measures (1) how long W push workers take to deliver
a backlog of `--edits` queued edits, as after an outage (each delivery is a re-read and an
update: two CDP calls), and (2) how many consumers per second one bulk worker refreshes
(CDP_CONCURRENCY calls at a time). Each worker is a `manage.py tasks_worker` process of its own.
docs/operations.md turns the figures into how many workers of each to run.
"""

import argparse
import copy
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench.harness import setup_django

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=300)
    parser.add_argument("--refs", type=int, default=2000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    os.environ.setdefault("PUSH_RETRY_DELAY", "0")
    setup_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from audit.services import RequestMeta
    from cdp_sandbox import seed
    from cdp_sandbox.server import Fault, Sandbox
    from consumers import bulk, pushes, services
    from consumers.models import BulkRefresh, Push

    call_command("migrate", verbosity=0)
    sandbox = Sandbox()
    sandbox.start()
    settings.CDP_BASE_URL = sandbox.base_url
    settings.CDP_CLIENT_KEY, settings.CDP_API_TOKEN = "sandbox-client-key", "sandbox-api-token"
    settings.CDP_ALLOWED_HOSTS = [*settings.CDP_ALLOWED_HOSTS, "127.0.0.1"]
    settings.CDP_RETRY_ATTEMPTS = 1
    template = sandbox.data.consumers[seed.make_ref("consumer", 0)]
    refs = []
    for _ in range(max(args.edits, args.refs)):
        ref = str(uuid.uuid4())
        sandbox.data.consumers[ref] = {**copy.deepcopy(template), "ref": ref}
        refs.append(ref)
    user, _ = get_user_model().objects.get_or_create(username="bench-agent")
    env = {
        **os.environ,
        "CDP_BASE_URL": sandbox.base_url,
        "CDP_CLIENT_KEY": "sandbox-client-key",
        "CDP_API_TOKEN": "sandbox-api-token",
        "CDP_ALLOWED_HOSTS": ",".join(settings.CDP_ALLOWED_HOSTS),
        "LOG_LEVEL": "WARNING",
    }
    latency = Fault(path="/v2/.*", latency=args.latency_ms / 1000, times=None)
    print(
        f"Tasks backend {settings.TASKS_BACKEND}, CDP answering after {args.latency_ms} ms, "
        f"CDP_CONCURRENCY={settings.CDP_CONCURRENCY}:\n"
    )
    print("| Queue | workers | work | seconds | per second |")
    print("|---|---|---|---|---|")
    for workers in args.workers:
        Push.objects.all().delete()
        sandbox.clear_faults()
        sandbox.inject(Fault(method="POST", path="/v2/.*", status=503, times=None))
        for ref in refs[: args.edits]:
            consumer = services.consumer_fetch(ref=ref, with_order=False)
            pushes.consumer_push_update(
                consumer=consumer,
                data={**consumer.editable_values(), "last_name": f"Backlog-{workers}"},
                loaded_modified_at=consumer.cdp_modified_at,
                user=user,
                meta=RequestMeta(),
            )
        sandbox.clear_faults()
        sandbox.inject(copy.copy(latency))
        started = time.monotonic()
        processes = [_worker("pushes", env) for _ in range(workers)]
        while Push.objects.filter(status__in=Push.WAITING).exists():
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        _stop(processes)
        delivered = Push.objects.filter(status=Push.Status.SUCCEEDED).count()
        print(
            f"| pushes | {workers} | {delivered} queued edits delivered | {elapsed:.1f} "
            f"| {delivered / elapsed:.1f} edits |",
            flush=True,
        )
    job = bulk.bulk_refresh_start(user=user, refs=refs[: args.refs])
    started = time.monotonic()
    processes = [_worker("bulk", env)]
    while BulkRefresh.objects.get(pk=job.pk).status != BulkRefresh.Status.FINISHED:
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    _stop(processes)
    print(
        f"| bulk | 1 | {args.refs} consumers refreshed | {elapsed:.1f} "
        f"| {args.refs / elapsed:.0f} consumers |"
    )
    sandbox.stop()


def _worker(queue: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "tasks_worker", queue], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=60)


if __name__ == "__main__":
    main()
