"""Normalised name search at a million cached consumers (`python -m bench.search`).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/backoffice_bench_search python -m bench.search \
        [--consumers 1000000] [--runs 200]

Seeds the cache (if it holds fewer) with consumers whose names follow a long-tailed spread like
a real customer base: the 49 common names of `bench.seed` (some 2,000 rows each) and some
20,000 rarer ones, with accents, apostrophes, hyphens and spaces. Then times
`consumers.services.consumer_search` (the query and the first 51 rows, as the pages take them)
for queries as agents type them: prefixes of last names, whole names, first and last name,
accents left out, another apostrophe, a title before the name. Target: p95 ≤ 20 ms on PostgreSQL.
"""

import argparse
import os
import random
import time
import uuid
from datetime import UTC, datetime
from functools import partial

from bench.harness import measure, setup_django

_ACCENTED = (
    "Fernández Núñez Müller Søndergaard Ó_Broin Ní_Bhriain Straße Łukasiewicz Dubois-Lefèvre "
    "O'Sullivan D'Arcy van_der_Berg Åström"
)
ACCENTED = [name.replace("_", " ") for name in _ACCENTED.split()]
SYLLABLES = [
    "ca",
    "mor",
    "lin",
    "dra",
    "ben",
    "tso",
    "vel",
    "ri",
    "han",
    "gor",
    "sel",
    "ma",
    "quin",
    "bro",
    "det",
    "fal",
    "ki",
    "wen",
    "sto",
    "nar",
]
BATCH = 5_000


def names(rng: random.Random) -> tuple[list[str], list[str], list[float]]:
    """First names, and last names with weights: a few common ones and a long tail."""
    from bench.seed import FIRST, LAST

    tail = sorted(
        {
            "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3)))).title()
            for _ in range(30_000)
        }
    )[:20_000]
    last = [*LAST, *ACCENTED, *tail]
    weights = (
        [10.0] * len(LAST)
        + [5.0] * len(ACCENTED)
        + [1.0 / (1 + i / 2000) for i in range(len(tail))]
    )
    return FIRST, last, weights


def seed(total: int, rng: random.Random) -> float:
    from bench.seed import TITLES
    from consumers.models import OrderConsumer
    from consumers.search import name_keys

    have = OrderConsumer.objects.count()
    if have >= total:
        return 0.0
    first_names, last_names, weights = names(rng)
    rng.seed(2026 + have)  # rows added to a smaller cache get refs of their own
    started = time.monotonic()
    now = datetime.now(UTC)
    for start in range(have, total, BATCH):
        count = min(BATCH, total - start)
        lasts = rng.choices(last_names, weights, k=count)
        rows = []
        for last in lasts:
            first = rng.choice(first_names)
            rows.append(
                OrderConsumer(
                    ref=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    order_ref=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    title=rng.choice(TITLES),
                    first_name=first,
                    last_name=last,
                    **name_keys(first, last),
                    fetched_at=now,
                    raw={},
                )
            )
        OrderConsumer.objects.bulk_create(rows)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE consumers_orderconsumer")
    return time.monotonic() - started


QUERIES = [
    ("last-name prefix, common", "Byr"),
    ("last-name prefix, rare", "Mordra"),
    ("whole last name, common", "Murphy"),
    ("whole last name, accent left out", "Fernandez"),
    ("last name with another apostrophe", "O\u2019Sullivan"),
    ("last name without its apostrophe", "osullivan"),
    ("first and last name", "Aoife Byrne"),
    ("first and last-name prefix", "Liam Wal"),
    ("title and name", "Mrs Kelly"),
    ("no match", "Zzyzx"),
]


def _first_page(search, typed: str) -> list:
    return list(search(query=typed)[:51])


def _select_one() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchall()


def _server_ms(typed: str) -> float:
    """The database's own planning and execution time for the search's queries (EXPLAIN)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from consumers.services import consumer_search

    with CaptureQueriesContext(connection) as queries:
        consumer_search(query=typed)
    total = 0.0
    with connection.cursor() as cursor:
        for query in queries.captured_queries:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query["sql"])
            plan = cursor.fetchone()[0][0]
            total += plan["Planning Time"] + plan["Execution Time"]
    return total


def ensure_database(url: str) -> None:
    from bench.run import ensure_database as create

    create(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consumers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/backoffice_bench_search"
    )
    ensure_database(os.environ["DATABASE_URL"])
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    from consumers.models import OrderConsumer
    from consumers.services import consumer_search

    call_command("migrate", verbosity=0)
    seconds = seed(args.consumers, random.Random(2026))
    total = OrderConsumer.objects.count()
    print(f"Cached consumers: {total:,} ({connection.vendor}; seeded in {seconds:.0f} s)\n")
    print(
        "| Query | typed | matches (first 51) | median ms | p95 ms | in the database ms | target |"
    )
    print("|---|---|---|---|---|---|---|")
    worst = 0.0
    for label, typed in QUERIES:
        found = len(consumer_search(query=typed))
        timing = measure(partial(_first_page, consumer_search, typed), runs=args.runs)
        worst = max(worst, timing["p95"])
        verdict = "met" if timing["p95"] <= 20 else "MISSED"
        times = f"{timing['median']:.1f} | {timing['p95']:.1f} | {_server_ms(typed):.2f}"
        print(f"| {label} | “{typed}” | {found} | {times} | p95 ≤ 20 ms: {verdict} |")
    round_trip = measure(_select_one, runs=args.runs)
    print(
        f"\nA `SELECT 1` round trip in the same run: median {round_trip['median']:.2f} ms, "
        f"p95 {round_trip['p95']:.2f} ms (how busy the machine was)."
    )
    print(f"\nWorst p95: {worst:.1f} ms")


if __name__ == "__main__":
    main()
