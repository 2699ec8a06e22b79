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
