"""Processes of a deployment for the multi-node tests: app nodes (gunicorn) and tasks workers.

Each is a real process of its own, on this machine, pointed at the test database (PostgreSQL),
the test's CDP sandbox and whatever REDIS_URL / TASKS_BACKEND the suite runs with.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{db['USER']}{password}@{host}/{db['NAME']}"


def node_env(sandbox, **extra: str) -> dict[str, str]:
    """The environment of a node: the suite's settings, its database, its sandbox."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "CDP_BASE_URL": sandbox.base_url,
        "CDP_CLIENT_KEY": sandbox.config.client_key,
        "CDP_API_TOKEN": sandbox.config.api_token,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "CONN_MAX_AGE": "0",
    }
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    env["TASKS_BACKEND"] = settings.TASKS_BACKEND
    env.update(extra)
    return env


class Process:
    """A child process in a session of its own, so SIGKILL takes it with its children."""

    def __init__(self, command: list[str], env: dict[str, str], name: str, log: Path):
        self.command, self.env, self.name, self.log_path = command, env, name, log
        self.popen: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.command, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()

    def kill(self) -> None:
        """SIGKILL, as the kernel's out-of-memory killer or a lost machine would."""
        assert self.popen is not None
        os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def web_node(env: dict[str, str], port: int, log_dir: Path, *, threads: int = 4) -> Process:
    """An app node: gunicorn with the production configuration, one worker process."""
    node = Process(
        [sys.executable, "-m", "gunicorn", "backoffice.wsgi",
         "--config", "python:backoffice.launch.gunicorn_conf", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", str(threads)],
        env, f"web:{port}", log_dir / f"web-{port}.log",
    )  # fmt: skip
    wait_until_up(f"http://127.0.0.1:{port}/healthz", node)
    return node


def worker(env: dict[str, str], queue: str, log_dir: Path, number: int = 1) -> Process:
    """A tasks worker of one queue, on the suite's backend (`manage.py tasks_worker <queue>`)."""
    return Process(
        [sys.executable, "manage.py", "tasks_worker", queue],
        env, f"worker-{queue}-{number}", log_dir / f"worker-{queue}-{number}.log",
    )  # fmt: skip


def wait_until_up(url: str, process: Process, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.popen is not None
        if process.popen.poll() is not None:
            raise AssertionError(f"{process.name} stopped at start-up:\n{process.output()}")
        try:
            if requests.get(url, timeout=3).status_code == 200:
                return
        except requests.RequestException:
            pass  # not listening yet, or still loading the app
        time.sleep(0.2)
    raise AssertionError(f"{process.name} did not answer {url}:\n{process.output()}")


def wait_for(condition, timeout: float, what: str, step: float = 0.2):
    """Poll `condition` until it returns something true; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"Timed out after {timeout:g} s waiting for {what}.")


def sign_in(session: requests.Session, base_url: str, username: str, password: str) -> None:
    """Sign in through the sign-in page, as a browser does (CSRF token from the form)."""
    page = session.get(f"{base_url}/accounts/login/", timeout=10)
    token = page.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    answer = session.post(
        f"{base_url}/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base_url}/accounts/login/"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text[:500]
