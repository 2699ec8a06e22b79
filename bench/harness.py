"""Shared benchmark plumbing: Django set-up for measuring, timing, and printing results."""

import os
import statistics
import time
from collections.abc import Callable


def setup_django() -> None:
    """Configure Django as production would run (DEBUG off), but over plain HTTP in-process."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
    os.environ.setdefault("SECRET_KEY", "benchmarks-only-" + "x" * 50)
    os.environ.setdefault("HTTPS", "false")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # The benchmarks talk to the local sandbox, which credentials may reach only when allowed.
    from backoffice.cdp_hosts import with_sandbox

    os.environ["CDP_ALLOWED_HOSTS"] = with_sandbox(os.environ.get("CDP_ALLOWED_HOSTS"))
    import warnings

    import django

    # The admin's own date filters, our reference, compare with naive dates; not ours to fix.
    warnings.filterwarnings("ignore", "DateTimeField .* received a naive datetime", RuntimeWarning)
    django.setup()


def measure(action: Callable[[], object], *, runs: int = 30, warmup: int = 3) -> dict[str, float]:
    """Run `action` repeatedly; return the median and 95th percentile in milliseconds."""
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return {"median": statistics.median(samples), "p95": p95, "runs": runs}


def row(name: str, ours: dict, reference: dict | None = None, target: str = "") -> str:
    """Format one result line, with the ratio to its reference measured in the same run."""
    line = f"| {name} | {ours['median']:.1f} | {ours['p95']:.1f} |"
    if reference:
        ratio = reference["median"] / ours["median"]
        line += f" {reference['median']:.1f} | {reference['p95']:.1f} | {ratio:.1f}x |"
    else:
        line += " | | |"
    return line + f" {target} |"


HEADER = (
    "| Measurement | median ms | p95 ms | reference median ms | reference p95 ms | speed-up "
    "| target |\n"
    "|---|---|---|---|---|---|---|"
)
