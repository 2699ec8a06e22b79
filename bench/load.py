"""Load: 50 simulated agents against `make serve` and the sandbox on loopback, for 5 minutes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/benchload python -m bench.load \
        [--users 50] [--minutes 5] [--latency-ms 50]

Starts the production shape (gunicorn, the tasks worker, the CDP sandbox answering after
--latency-ms) on port 8765, runs Locust headless against it, and reports each page's median and
95th percentile, the errors, and the app workers' resident memory before and after.
"""

import argparse
import csv
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORT = 8765
SERVE_LOG = Path("/tmp/backoffice-load-serve.log")


def workers_rss_mb() -> list[float]:
    """Return the resident memory of each gunicorn worker (not the arbiter)."""
    out = subprocess.run(["ps", "-eo", "pid,ppid,rss,args"], capture_output=True, text=True).stdout
    rows = [line.split(None, 3) for line in out.splitlines()[1:]]
    gunicorn = {pid for pid, _, _, args in rows if "gunicorn backoffice.wsgi" in args}
    return [
        int(rss) / 1024 for pid, ppid, rss, args in rows if pid in gunicorn and ppid in gunicorn
    ]


def _sample_rss(samples: list, minutes: float) -> None:
    """Note the workers' memory once a minute while the load runs."""
    for minute in range(1, int(minutes) + 1):
        time.sleep(60)
        samples.append((minute, workers_rss_mb()))


def wait_until_ready(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    sys.exit("The app did not become ready.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args()
    env = {
        **os.environ,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "HTTPS": "false",
        "SANDBOX": "true",
        "SANDBOX_LATENCY_MS": str(args.latency_ms),
        "PORT": str(PORT),
        "LOG_LEVEL": "WARNING",
        # The simulated agents all come from 127.0.0.1; keep the lockout per user name only.
        "AXES_LOCKOUT_PARAMETERS": "username",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True)
    subprocess.run(
        [*manage, "shell", "--no-imports", "-v", "0", "-c",
         "from bench.load import create_users; create_users()"],
        env=env, check=True,
    )  # fmt: skip
    # The access log would drown the report: it goes to a file, named at the end.
    with SERVE_LOG.open("w") as serve_log:
        serve = subprocess.Popen(
            [sys.executable, "-m", "backoffice.launch.serve"],
            env=env,
            cwd=ROOT,
            stdout=serve_log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_ready()
            rss_before = workers_rss_mb()
            samples: list[tuple[int, list[float]]] = []
            sampler = threading.Thread(
                target=_sample_rss, args=(samples, args.minutes), daemon=True
            )
            sampler.start()
            stats = Path("/tmp/backoffice-load")
            locust = [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py")]
            locust += ["--headless", "-u", str(args.users), "-r", str(max(1, args.users // 10))]
            locust += ["-t", f"{int(args.minutes * 60)}s", "--host", f"http://127.0.0.1:{PORT}"]
            locust += ["--csv", str(stats), "--only-summary"]
            subprocess.run(locust, env=env, cwd=ROOT, check=False)
            rss_after = workers_rss_mb()
        finally:
            serve.terminate()
            serve.wait(timeout=30)
    report(Path(f"{stats}_stats.csv"), rss_before, rss_after, args)
    for minute, rss in samples:
        print(f"RSS after {minute} min: {', '.join(f'{m:.0f}' for m in rss)} MB")
    print(f"\nThe app's own log: {SERVE_LOG}")


# CDP calls each page makes, for its target of 200 ms plus CDP's latency.
# A consumer page makes none once the consumer is cached, three on its first view (consumer,
# guest, order); signing in is left out: Argon2 is slow on purpose.
CDP_CALLS = {"search by name": 0, "consumer page": 3, "order page": 2, "edit page": 3, "save": 2,
             "sign-in page": 0}  # fmt: skip


def report(path: Path, rss_before: list[float], rss_after: list[float], args) -> None:
    print(f"\n{args.users} agents for {args.minutes:g} min, CDP latency {args.latency_ms} ms\n")
    print("| Page | requests | errors | median ms | p95 ms | target p95 ms |")
    print("|---|---|---|---|---|---|")
    with path.open() as stats:
        for line in csv.DictReader(stats):
            name = line["Name"]
            calls = CDP_CALLS.get(name)
            target = "" if calls is None else f"{200 + calls * args.latency_ms}"
            print(f"| {name} | {line['Request Count']} | {line['Failure Count']} | "
                  f"{line['50%']} | {line['95%']} | {target} |")  # fmt: skip
    print(f"\nApp worker RSS MB before: {', '.join(f'{m:.0f}' for m in rss_before)}; "
          f"after: {', '.join(f'{m:.0f}' for m in rss_after)}")  # fmt: skip


def create_users() -> None:
    """Create the simulated agents (run inside `manage.py shell`)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from accounts import roles

    roles.ensure_roles()
    group = Group.objects.get(name=roles.CUSTOMER_SERVICE)
    User = get_user_model()
    for number in range(1, 51):
        user, _ = User.objects.get_or_create(username=f"load{number:03d}")
        user.set_password("load-test-password-1234")
        user.save()
        user.groups.add(group)


if __name__ == "__main__":
    main()
