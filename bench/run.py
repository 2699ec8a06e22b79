"""Run every benchmark and write the results to bench/results.md (`make bench`).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/backoffice_bench python -m bench.run [--quick]

Creates the database if it is missing and seeds it (100,000 consumers, 1,000,000 audit entries)
unless it already holds them, then runs the list, save, order, export, audit chain, queue and
load benchmarks one after the other, each in its own process. `--quick` makes everything
smaller, to try it out.
"""

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.md"


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named in `url` if it does not exist yet."""
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        return
    import psycopg

    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        if not connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')


def run(step: list[str], env: dict, out) -> None:
    print(f"\n$ {' '.join(step)}", flush=True)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", *step], env=env, cwd=ROOT, capture_output=True, text=True
    )
    lines = [line for line in result.stdout.splitlines() if not line.startswith("{")]
    print("\n".join(lines), flush=True)
    out.write(f"\n### `python -m {' '.join(step)}` ({time.monotonic() - started:.0f} s)\n\n")
    out.write("\n".join(lines) + "\n")
    if result.returncode:
        out.write(f"\nFAILED (exit {result.returncode}):\n\n```\n{result.stderr[-3000:]}\n```\n")
        print(result.stderr[-3000:], file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/backoffice_bench")
    ensure_database(url)
    env = {**os.environ, "DATABASE_URL": url}
    consumers, entries = (10_000, 100_000) if args.quick else (100_000, 1_000_000)
    with RESULTS.open("w") as out:
        out.write(f"# Benchmark results, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n")
        database = urlsplit(url).scheme
        out.write(f"Machine: {os.cpu_count()} CPUs, {platform_summary()}; database {database}.\n")
        manage = [sys.executable, "manage.py"]
        quiet = {**env, "DEBUG": "true", "LOG_LEVEL": "WARNING"}
        subprocess.run([*manage, "migrate", "-v", "0"], env=quiet, cwd=ROOT, check=True)
        # The pages are rendered as in production, with the hashed static file names.
        collect = [*manage, "collectstatic", "--no-input", "-v", "0"]
        production = {**env, "SECRET_KEY": "benchmarks-only-" + "x" * 50, "LOG_LEVEL": "WARNING"}
        subprocess.run(collect, env=production, cwd=ROOT, check=True)
        count = "from audit.models import AuditEntry; print(AuditEntry.objects.count())"
        seeded = subprocess.run(
            [*manage, "shell", "--no-imports", "-v", "0", "-c", count],
            env=quiet,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if not seeded.stdout.strip().isdigit() or int(seeded.stdout.strip()) < entries:
            run(["bench.seed", "--consumers", str(consumers), "--entries", str(entries)], env, out)
        runs = "10" if args.quick else "30"
        run(["bench.lists", "--runs", runs], env, out)
        run(["bench.save", "--runs", runs], env, out)
        run(["bench.orders"], env, out)
        run(["bench.export"], env, out)
        run(["bench.audit_chain", "--seconds", "5" if args.quick else "20"], env, out)
        run(["bench.queues", "--edits", "100" if args.quick else "300"], env, out)
        run(["bench.load", "--minutes", "1" if args.quick else "5"], env, out)
    print(f"\nWritten to {RESULTS.relative_to(ROOT)}.")


def platform_summary() -> str:
    import platform

    return f"{platform.machine()}, Python {platform.python_version()}"


if __name__ == "__main__":
    main()
