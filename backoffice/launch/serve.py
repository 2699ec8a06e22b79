"""Run the production shape on one machine (`make serve`): gunicorn and the tasks workers.

Settings come from the environment as in production (SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL,
the CDP_* values or an active CDP connection, ...); DEBUG stays off. `SANDBOX=true` also starts
the local CDP sandbox and points the app at it, for a try-out or a load test on one machine.
"""

import os
import subprocess
import sys

from backoffice.cdp_hosts import with_sandbox
from backoffice.launch import gunicorn_conf
from backoffice.launch.processes import (
    MANAGE,
    ROOT,
    sandbox_api_version,
    sandbox_flags,
    stop_on_signals,
    supervise,
    wait_for_port,
    workers,
)

ACCESS_LOG_FORMAT = gunicorn_conf.access_log_format


def main() -> None:
    stop_on_signals()
    env = {**os.environ, "DEBUG": "false"}
    processes = []
    if env.get("SANDBOX", "").lower() in ("1", "true", "yes"):
        sandbox_port = int(env.get("SANDBOX_PORT", "8100"))
        env.update(
            CDP_BASE_URL=f"http://127.0.0.1:{sandbox_port}",
            CDP_CLIENT_KEY="sandbox-client-key",
            CDP_API_TOKEN="sandbox-api-token",
            CDP_API_VERSION=sandbox_api_version(env),
            CDP_ALLOWED_HOSTS=with_sandbox(env.get("CDP_ALLOWED_HOSTS")),
        )
        latency = env.get("SANDBOX_LATENCY_MS", "0")
        sandbox = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cdp_sandbox",
                "--port",
                str(sandbox_port),
                "--latency-ms",
                latency,
                *sandbox_flags(env),
            ],
            env=env,
            cwd=ROOT,
        )
        processes.append(sandbox)
        wait_for_port(sandbox_port, sandbox, "CDP sandbox")
    subprocess.run([*MANAGE, "migrate", "--no-input", "-v", "0"], env=env, check=True)
    subprocess.run([*MANAGE, "collectstatic", "--no-input", "-v", "0"], env=env, check=True)
    subprocess.run([*MANAGE, "requeue_pushes"], env=env, check=True)
    subprocess.run([*MANAGE, "expire_approvals"], env=env, check=True)
    bind = env.get("BIND") or f"{env.get('HOST', '127.0.0.1')}:{env.get('PORT', '8000')}"
    gunicorn = [
        sys.executable, "-m", "gunicorn", "backoffice.wsgi",
        "--config", "python:backoffice.launch.gunicorn_conf", "--bind", bind,
    ]  # fmt: skip
    print(f"Serving on http://{bind}/ with the tasks workers. Ctrl-C stops them.", flush=True)
    processes.append(subprocess.Popen(gunicorn, env=env, cwd=ROOT))
    processes += workers(env)
    supervise(processes)


if __name__ == "__main__":
    main()
