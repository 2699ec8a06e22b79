"""Run a few processes together, stopping them all when one stops or on Ctrl-C / SIGTERM.

Used by `make run` (backoffice/launch/dev.py) and `make serve` (backoffice/launch/serve.py).
"""

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MANAGE = [sys.executable, str(ROOT / "manage.py")]


# The REST API versions the sandbox serves side by side (cdp_sandbox.store.VERSIONS).
SANDBOX_API_VERSIONS = ("v2", "v2.1")


def sandbox_api_version(env: dict[str, str]) -> str:
    """Return the API version the app speaks to the sandbox: SANDBOX_API_VERSION, default v2.1.

    The sandbox answers both; v2.1 by default, so a newcomer sees the API Sitecore recommends.
    """
    version = env.get("SANDBOX_API_VERSION", "").strip() or "v2.1"
    if version not in SANDBOX_API_VERSIONS:
        sys.exit(
            f"SANDBOX_API_VERSION is “{version}”; the sandbox speaks "
            f"{' and '.join(SANDBOX_API_VERSIONS)} (docs/cdp-versions.md)."
        )
    return version


def sandbox_flags(env: dict[str, str]) -> list[str]:
    """Return the sandbox's options the environment asks for (SANDBOX_LOG_REQUESTS)."""
    wanted = env.get("SANDBOX_LOG_REQUESTS", "").lower() in ("1", "true", "yes")
    return ["--log-requests"] if wanted else []


def _stop(signum: int, frame: object) -> None:
    # Only the first signal counts: a second Ctrl-C must not cut the clean-up short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def stop_on_signals() -> None:
    """Turn Ctrl-C and a plain `kill` into KeyboardInterrupt, even where SIGINT was ignored."""
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)


def wait_for_port(port: int, process: subprocess.Popen, name: str, timeout: float = 15.0) -> None:
    """Wait until `process` listens on the loopback port, or exit naming what went wrong."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"The {name} stopped at start-up (exit code {process.returncode}).")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"The {name} did not start listening on port {port}.")


def workers(env: dict[str, str]) -> list[subprocess.Popen]:
    """Start one tasks worker per queue (pushes, bulk), on whichever backend the settings choose.

    TASKS_WORKERS_PUSHES / TASKS_WORKERS_BULK: how many of each (default one).
    """
    started = []
    for queue in ("pushes", "bulk"):
        for _ in range(int(env.get(f"TASKS_WORKERS_{queue.upper()}", "1"))):
            command = [*MANAGE, "tasks_worker", queue]
            started.append(subprocess.Popen(command, env=env, cwd=ROOT))
    return started


def supervise(processes: list[subprocess.Popen]) -> None:
    """Wait until one process stops or a signal comes, then stop the others."""
    try:
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop(processes)


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
