"""The CSV export of the whole audit log: its rate, steady or not, and the process's memory.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench python -m bench.export

Run `python -m bench.seed` on the same database first. The export runs in this process through
the whole view, as a worker would serve it, read to the end; the resident memory (RSS) of the
process is sampled as it goes.
"""

import time

from bench.harness import setup_django


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    setup_django()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    from accounts import roles
    from audit.models import AuditEntry

    user, _ = get_user_model().objects.get_or_create(username="bench-supervisor")
    user.groups.add(Group.objects.get(name=roles.SUPERVISOR))
    client = Client()
    client.force_login(user)
    entries = AuditEntry.objects.count()

    before = rss_mb()
    started = time.perf_counter()
    response = client.get("/audit/export.csv")
    assert response.status_code == 200
    rows, checkpoint, samples, peak = 0, started, [], before
    for _chunk in response.streaming_content:  # type: ignore[attr-defined]  # a streamed answer
        rows += 1
        if rows % 100_000 == 0:
            now = time.perf_counter()
            peak = max(peak, rss_mb())
            samples.append((rows, 100_000 / (now - checkpoint), peak))
            checkpoint = now
    elapsed = time.perf_counter() - started
    peak = max(peak, rss_mb())

    rate = (rows - 1) / elapsed
    print(
        f"{entries:,} audit entries → {rows - 1:,} CSV rows in {elapsed:.1f} s ({rate:,.0f} rows/s)"
    )
    print(f"RSS: {before:.0f} MB before, {peak:.0f} MB at most (target: under 150 MB)\n")
    print("| rows so far | rows/s in the last 100,000 | RSS MB |\n|---|---|---|")
    for done, rate, memory in samples:
        print(f"| {done:,} | {rate:,.0f} | {memory:.0f} |")


if __name__ == "__main__":
    main()
