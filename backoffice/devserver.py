"""Run the whole product locally: the CDP sandbox, the app pointed at it, and the worker.

Migrates the database, creates the demo users (printing their passwords), starts the sandbox
on loopback, Django's development server and the tasks worker that sends queued edits, and stops
them all on Ctrl-C.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from cdp_sandbox import seed

ROOT = Path(__file__).resolve().parent.parent


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"The CDP sandbox stopped at start-up (exit code {process.returncode}).")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"The CDP sandbox did not start listening on port {port}.")


def _stop(signum, frame):
    # Only the first signal counts: a second Ctrl-C must not cut the clean-up short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def main() -> None:
    # Ctrl-C and a plain `kill` both stop the app and the sandbox, even when started in the
    # background, where the shell leaves SIGINT ignored.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    port = int(os.environ.get("PORT", "8000"))
    sandbox_port = int(os.environ.get("SANDBOX_PORT", "8100"))
    client_key, api_token = "sandbox-client-key", "sandbox-api-token"
    env = {
        **os.environ,
        "DEBUG": os.environ.get("DEBUG", "true"),
        "CDP_BASE_URL": f"http://127.0.0.1:{sandbox_port}",
        "CDP_CLIENT_KEY": client_key,
        "CDP_API_TOKEN": api_token,
        "CDP_DEMO_ORDER_REFS": ",".join(seed.demo_order_refs()),
        # Queued edits are retried sooner than in production, so a demo does not keep you waiting.
        "PUSH_RETRY_DELAY": os.environ.get("PUSH_RETRY_DELAY", "5"),
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], env=env, check=True)
    subprocess.run([*manage, "create_demo_users"], env=env, check=True)
    subprocess.run([*manage, "requeue_pushes"], env=env, check=True)

    sandbox = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cdp_sandbox",
            "--port",
            str(sandbox_port),
            "--client-key",
            client_key,
            "--api-token",
            api_token,
        ],
        env=env,
        cwd=ROOT,
    )
    app = worker = None
    try:
        _wait_for_port(sandbox_port, sandbox)
        print(
            f"\nOpen http://127.0.0.1:{port}/ and sign in with a demo user above."
            " Ctrl-C stops everything.\n",
            flush=True,
        )
        app = subprocess.Popen([*manage, "runserver", f"127.0.0.1:{port}"], env=env, cwd=ROOT)
        worker = subprocess.Popen([*manage, "db_worker", "--interval", "1"], env=env, cwd=ROOT)
        # Whichever stops first, the others are stopped too.
        while all(p.poll() is None for p in (app, worker, sandbox)):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for process in (app, worker, sandbox):
            if process is not None and process.poll() is None:
                process.terminate()
        for process in (app, worker, sandbox):
            if process is not None:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()


if __name__ == "__main__":
    main()
