"""Run the whole product locally: the CDP sandbox, the app pointed at it, and the worker.

Migrates the database, creates the demo users (printing their passwords), starts the sandbox
on loopback, Django's development server and the tasks worker that sends queued edits, and stops
them all on Ctrl-C.
"""

import os
import subprocess
import sys

from backoffice.cdp_hosts import with_sandbox
from backoffice.launch.processes import (
    MANAGE,
    ROOT,
    stop,
    stop_on_signals,
    supervise,
    wait_for_port,
)
from cdp_sandbox import seed


def main() -> None:
    stop_on_signals()
    port = int(os.environ.get("PORT", "8000"))
    sandbox_port = int(os.environ.get("SANDBOX_PORT", "8100"))
    client_key, api_token = "sandbox-client-key", "sandbox-api-token"
    env = {
        **os.environ,
        "DEBUG": os.environ.get("DEBUG", "true"),
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "plain"),
        "CDP_BASE_URL": f"http://127.0.0.1:{sandbox_port}",
        "CDP_CLIENT_KEY": client_key,
        "CDP_API_TOKEN": api_token,
        # The sandbox is on loopback; the regional hosts (or your own list) stay allowed too.
        "CDP_ALLOWED_HOSTS": with_sandbox(os.environ.get("CDP_ALLOWED_HOSTS")),
        "CDP_DEMO_ORDER_REFS": ",".join(seed.demo_order_refs()),
        # Queued edits are retried sooner than in production, so a demo does not keep you waiting.
        "PUSH_RETRY_DELAY": os.environ.get("PUSH_RETRY_DELAY", "5"),
    }
    subprocess.run([*MANAGE, "migrate", "--no-input", "-v", "0"], env=env, check=True)
    subprocess.run([*MANAGE, "create_demo_users"], env=env, check=True)
    subprocess.run([*MANAGE, "requeue_pushes"], env=env, check=True)

    sandbox = subprocess.Popen(
        [sys.executable, "-m", "cdp_sandbox", "--port", str(sandbox_port),
         "--client-key", client_key, "--api-token", api_token],
        env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        wait_for_port(sandbox_port, sandbox, "CDP sandbox")
    except BaseException:
        stop([sandbox])
        raise
    print(
        f"\nOpen http://127.0.0.1:{port}/ and sign in with a demo user above."
        " Ctrl-C stops everything.\n",
        flush=True,
    )
    app = subprocess.Popen([*MANAGE, "runserver", f"127.0.0.1:{port}"], env=env, cwd=ROOT)
    worker = subprocess.Popen([*MANAGE, "db_worker", "--interval", "1"], env=env, cwd=ROOT)
    supervise([app, worker, sandbox])


if __name__ == "__main__":
    main()
