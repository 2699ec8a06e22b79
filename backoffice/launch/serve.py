"""Run the production shape on one machine (`make serve`): gunicorn and the tasks worker.

Settings come from the environment as in production (SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL,
the CDP_* values or an active CDP connection, ...); DEBUG stays off. `SANDBOX=true` also starts
the local CDP sandbox and points the app at it, for a try-out or a load test on one machine.
"""

import os
import subprocess
import sys

from backoffice.cdp_hosts import with_sandbox
from backoffice.launch.processes import MANAGE, ROOT, stop_on_signals, supervise, wait_for_port

# gunicorn's access log line. The client's address as the app worked it out (core.proxies;
# `%(h)s`, the TCP peer, is the proxy's behind one, so it comes last, after "via"), the path
# without its query string (a search by name must not land in the access log), and the request
# id that the app's JSON lines and the audit entries carry.
ACCESS_LOG_FORMAT = (
    '%({core.client_ip}e)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms '
    "%({x-request-id}o)s via %(h)s"
)


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
            ],
            env=env,
            cwd=ROOT,
        )
        processes.append(sandbox)
        wait_for_port(sandbox_port, sandbox, "CDP sandbox")
    subprocess.run([*MANAGE, "migrate", "--no-input", "-v", "0"], env=env, check=True)
    subprocess.run([*MANAGE, "collectstatic", "--no-input", "-v", "0"], env=env, check=True)
    subprocess.run([*MANAGE, "requeue_pushes"], env=env, check=True)
    bind = f"{env.get('HOST', '127.0.0.1')}:{env.get('PORT', '8000')}"
    gunicorn = [
        sys.executable, "-m", "gunicorn", "backoffice.wsgi",
        "--bind", bind,
        "--workers", env.get("WEB_CONCURRENCY", "4"),
        # Threads, because a page mostly waits for CDP: a waiting thread holds no CPU.
        "--worker-class", "gthread",
        "--threads", env.get("WEB_THREADS", "4"),
        # Above CDP_PAGE_BUDGET, so a slow CDP page ends with its own message, not a kill.
        "--timeout", env.get("GUNICORN_TIMEOUT", "60"),
        # Longer than any load balancer or client keeps an idle connection, so the server never
        # closes one at the very moment the other end reuses it.
        "--keep-alive", env.get("GUNICORN_KEEPALIVE", "75"),
        "--access-logfile", "-",
        "--access-logformat", ACCESS_LOG_FORMAT,
    ]  # fmt: skip
    print(f"Serving on http://{bind}/ with the tasks worker. Ctrl-C stops them.", flush=True)
    processes.append(subprocess.Popen(gunicorn, env=env, cwd=ROOT))
    processes.append(subprocess.Popen([*MANAGE, "db_worker"], env=env, cwd=ROOT))
    supervise(processes)


if __name__ == "__main__":
    main()
