"""Audited saves per second with 1, 8 and 32 concurrent writers (PostgreSQL).

    DATABASE_URL=postgres://... python -m bench.audit_chain [--writers 1 8 32] [--seconds 10]

Every audited write appends to one hash chain and holds the chain head's row lock from its
insert to its commit, so writers take turns. Each writer here is a process of its own with its own
connection, as gunicorn threads and workers on several machines are, and makes what an agent's
save writes to the audit log: one entry with two changed fields, in a transaction of its own.
Prints a Markdown table: saves per second, and the median and 95th percentile of one save.
"""

import argparse
import multiprocessing
import statistics
import time

from bench.harness import setup_django


def _writer(number: int, seconds: float, ready, go, results) -> None:
    setup_django()
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from audit.services import RequestMeta, audit_entry_create

    user = get_user_model().objects.get(username="bench-agent")
    meta = RequestMeta(ip_address="192.0.2.1", user_agent="bench", request_id=f"bench-{number}")
    latencies = []
    connection.ensure_connection()
    ready.put(number)
    go.wait()  # every writer set up and connected before the clock starts
    deadline = time.monotonic() + seconds
    sequence = 0
    while time.monotonic() < deadline:
        sequence += 1
        started = time.perf_counter()
        with transaction.atomic():
            audit_entry_create(
                user=user, meta=meta, action="edit", outcome="succeeded",
                consumer_ref=f"bench-consumer-{number}", order_ref="bench-order",
                object_repr="Liam Byrne",
                changes={"last_name": ("Byrne", f"Beirne-{sequence}"), "title": ("Mr", "Dr")},
            )  # fmt: skip
        latencies.append(time.perf_counter() - started)
    connection.close()
    results.put(latencies)


def run(writers: int, seconds: float) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    ready, go, results = context.Queue(), context.Event(), context.Queue()
    processes = [
        context.Process(target=_writer, args=(n, seconds, ready, go, results))
        for n in range(writers)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get()
    go.set()
    latencies = [sample for _ in processes for sample in results.get()]
    for process in processes:
        process.join()
    latencies.sort()
    return {
        "saves": len(latencies),
        "per_second": len(latencies) / seconds,
        "median": statistics.median(latencies) * 1000,
        "p95": latencies[round(0.95 * (len(latencies) - 1))] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    setup_django()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    get_user_model().objects.get_or_create(username="bench-agent")
    connection.close()
    print(f"Audited saves on {connection.vendor}, {args.seconds:g} s per run:\n")
    print("| Concurrent writers | saves per second | median ms | p95 ms |")
    print("|---|---|---|---|")
    for writers in args.writers:
        result = run(writers, args.seconds)
        print(
            f"| {writers} | {result['per_second']:.0f} | {result['median']:.1f} "
            f"| {result['p95']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
