"""Measure how long a queued edit takes to reach CDP once CDP is back (docs/reliability.md).

    python -m bench.recovery [--runs 5] [--seed 1]

Starts what `make run` starts, on free ports and a fresh SQLite database in a temporary folder:
the CDP sandbox and the real tasks worker (`manage.py tasks_worker pushes bulk`). This process
plays the agent: it saves an edit while the sandbox refuses it (fault injection), waits a while
(an outage of 3 to 20 seconds, or 40 to 90, from a seeded random generator), removes the fault
and times "CDP is back" (the DELETE of the fault) to "the edit is in CDP" (the push succeeded,
polled every 50 ms). The production defaults apply: PUSH_RETRY_DELAY 30 s doubling to 900 s, breaker
threshold 5 and cool-off 30 s, PUSH_PROBE_INTERVAL 5 s. Scenarios:

- updates-refused-quiet: CDP answers reads but refuses every update (503, as README's example);
  nothing else calls CDP after it is back;
- cdp-down-quiet: CDP answers nothing about consumers (503 on every consumer call); quiet after;
- updates-refused-agent-reads: as the first, but an agent opens a consumer's edit page (a read
  from CDP) right after CDP is back, from the process that saw the failures;
- no-probe-quiet: as the first with PUSH_PROBE_INTERVAL at a day, which is how the queue
  behaved before it was woken or probed: the edit waits for its backoff slot;
- cdp-down-long-quiet: as cdp-down-quiet with outages of 40 to 90 seconds, long enough for the
  worker's circuit breaker to open (its cool-off then comes first);
- no-probe-long-quiet: as no-probe-quiet with outages of 40 to 90 seconds (the second slot).
"""

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        return unused.getsockname()[1]


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"Nothing listens on port {port}.")


def control(base: str, method: str, path: str, body: dict | None = None) -> None:
    """Call one of the sandbox's control endpoints (docs/sandbox.md)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    urllib.request.urlopen(request, timeout=5).read()


def scenario_faults(name: str) -> list[dict]:
    if name.startswith("cdp-down"):
        return [{"path": "/v2/orderConsumers/.*", "status": 503, "times": None}]
    return [{"method": "POST", "path": "/v2/orderConsumers/.*", "status": 503, "times": None}]


def one_run(name: str, sandbox: str, outage: float, user, consumer_ref: str, n: int) -> float:
    """Queue an edit under the scenario's fault; return seconds from recovery to delivery."""
    from audit.services import RequestMeta
    from consumers import pushes, services
    from consumers.models import Push

    consumer = services.consumer_fetch(ref=consumer_ref)
    for fault in scenario_faults(name):
        control(sandbox, "POST", "/_sandbox/faults", fault)
    result = pushes.consumer_push_update(
        consumer=consumer,
        data={**consumer.editable_values(), "last_name": f"Recovery{n}"},
        loaded_modified_at=consumer.cdp_modified_at,
        user=user,
        meta=RequestMeta(request_id=f"recovery-{name}-{n}"),
    )
    assert result.outcome == pushes.Outcome.PENDING, result.outcome
    assert result.push is not None
    time.sleep(outage)
    control(sandbox, "DELETE", "/_sandbox/faults")
    back = time.monotonic()
    if name.endswith("agent-reads"):
        services.consumer_fetch(ref=consumer_ref)  # the agent opens the edit page
    while Push.objects.filter(pk=result.push.pk, status=Push.Status.SUCCEEDED).count() == 0:
        if time.monotonic() - back > 1200:
            raise SystemExit(f"{name}: not delivered within 20 minutes")
        time.sleep(0.05)
    return time.monotonic() - back


def run_scenario(name: str, runs: int, seed: int, folder: Path) -> list[float]:
    """Start a sandbox and the worker for one scenario, then measure it in this process."""
    sandbox_port = free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "backoffice.settings",
            "DEBUG": "true",
            "LOG_FORMAT": "plain",
            "LOG_LEVEL": "WARNING",
            "DATABASE_URL": f"sqlite:///{folder / 'recovery.sqlite3'}",
            "CDP_BASE_URL": sandbox_url,
            "CDP_CLIENT_KEY": "sandbox-client-key",
            "CDP_API_TOKEN": "sandbox-api-token",
        }
    )
    if name.startswith("no-probe"):
        os.environ["PUSH_PROBE_INTERVAL"] = "86400"
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], check=True, cwd=ROOT)
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "cdp_sandbox", "--port", str(sandbox_port)], cwd=ROOT
    )
    worker = None
    try:
        wait_for_port(sandbox_port)
        worker = subprocess.Popen([*manage, "tasks_worker", "pushes", "bulk"], cwd=ROOT)
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.cache import cache

        user, _ = get_user_model().objects.get_or_create(username="recovery-agent")
        rng = random.Random(f"{seed}-{name}")
        timings = []
        for n in range(runs):
            cache.clear()  # this process's circuit breaker starts closed for each run
            outage = rng.uniform(40, 90) if "-long-" in name else rng.uniform(3, 20)
            took = one_run(name, sandbox_url, outage, user, seed_ref(seed, n), n)
            print(f"  {name} run {n + 1}: outage {outage:.1f} s, delivered {took:.2f} s after")
            timings.append(took)
        return timings
    finally:
        for process in (worker, sandbox):
            if process is not None:
                process.terminate()
                process.wait(timeout=10)


def seed_ref(seed: int, n: int) -> str:
    from cdp_sandbox import seed as sandbox_seed

    return sandbox_seed.make_ref("consumer", (seed + n) % 12)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child process runs one scenario
    args = parser.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory() as folder:
            timings = run_scenario(args.one, args.runs, args.seed, Path(folder))
        print("RESULT " + json.dumps(timings), flush=True)
        return
    rows = []
    for name in args.scenarios.split(","):
        command = [sys.executable, "-m", "bench.recovery", "--one", name]
        command += ["--runs", str(args.runs), "--seed", str(args.seed)]
        child = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        for line in child.stdout.splitlines():
            if line.startswith("  "):
                print(line, flush=True)
        result = [line for line in child.stdout.splitlines() if line.startswith("RESULT ")]
        if child.returncode or not result:
            sys.exit(f"{name} failed:\n{child.stderr[-3000:]}")
        timings = json.loads(result[0].removeprefix("RESULT "))
        rows.append(
            f"| {name} | {len(timings)} | {min(timings):.1f} s | "
            f"{statistics.median(timings):.1f} s | {max(timings):.1f} s |"
        )
    print("\n| Scenario | Runs | Fastest | Median | Slowest |\n|---|---|---|---|---|")
    print("\n".join(rows))


SCENARIOS = (
    "updates-refused-quiet",
    "cdp-down-quiet",
    "updates-refused-agent-reads",
    "no-probe-quiet",
    "cdp-down-long-quiet",
    "no-probe-long-quiet",
)


if __name__ == "__main__":
    main()
