"""The deployment files run: every command they start exists and takes the options it is given,
and the configurations pass their own tools' checks where the tools are on this machine.

Docker cannot run here (no daemon), so the image is not built in CI; the Dockerfile's and
compose.yaml's commands are checked like the others, and `docker compose config` and a build run
where Docker works.
"""

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import get_commands, load_command_class

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
VENV_PYTHON = "/srv/backoffice/.venv/bin/python"


def check_command(argv: list[str], where: str) -> None:
    """Fail unless `argv` starts a management command or module of ours that takes its options."""
    assert argv[0] == "python", f"{where}: {argv} does not run the app's python"
    if argv[1] == "manage.py":
        name, *rest = argv[2:]
        commands = get_commands()
        assert name in commands, f"{where}: there is no management command {name}"
        parser = load_command_class(commands[name], name).create_parser("manage.py", name)
        try:
            parser.parse_args(rest)
        except SystemExit:  # argparse's way of refusing
            pytest.fail(f"{where}: manage.py {name} does not take {rest}")
    elif argv[1] == "-m":
        module, *rest = argv[2:]
        assert importlib.util.find_spec(module), f"{where}: there is no module {module}"
        if module == "gunicorn":
            app = next(a for a in rest if not a.startswith("-") and ":" not in a and "." in a)
            assert importlib.util.find_spec(app), f"{where}: there is no WSGI module {app}"
            config = rest[rest.index("--config") + 1].removeprefix("python:")
            assert importlib.util.find_spec(config), f"{where}: there is no config {config}"
    else:
        pytest.fail(f"{where}: {argv} is neither manage.py nor python -m")


def procfile() -> dict[str, list[str]]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    kinds = dict(line.split(":", 1) for line in lines if line and not line.startswith("#"))
    return {
        kind: shlex.split(command.replace("${PORT:-8000}", "8000"))
        for kind, command in kinds.items()
    }


def test_the_procfile_runs_web_both_workers_and_the_periodic_jobs():
    kinds = procfile()

    assert {"web", "worker-pushes", "worker-bulk", "periodic"} <= set(kinds)
    assert kinds["worker-pushes"][-2:] == ["tasks_worker", "pushes"]
    assert kinds["worker-bulk"][-2:] == ["tasks_worker", "bulk"]
    for kind, argv in kinds.items():
        check_command(argv, f"Procfile {kind}")


def test_the_periodic_process_runs_the_scheduled_jobs_with_real_commands():
    from backoffice.launch.periodic import jobs

    # As this run's tasks backend: only the database backend has rows to prune (and the command).
    env = {
        "AUDIT_CHECKPOINTS_FILE": "/var/lib/backoffice/checkpoints.jsonl",
        "TASKS_BACKEND": settings.TASKS_BACKEND,
    }
    commands = [job.command for job in jobs(env)]

    pruned = ["prune_db_task_results"] if settings.TASKS_BACKEND == "database" else []
    assert [c[0] for c in commands] == [
        "requeue_pushes", "expire_approvals", "verify_audit", "rollup_dashboard", "purge_cache",
        *pruned,
    ]  # fmt: skip
    verify = next(c for c in commands if c[0] == "verify_audit")
    assert "--checkpoint" in verify
    for command in commands:
        check_command(["python", "manage.py", *command], "periodic")


def compose_commands() -> dict[str, list[str]]:
    text = (DEPLOY / "compose.yaml").read_text()
    found: dict[str, list[str]] = {}
    service = ""
    for line in text.splitlines():
        if match := re.fullmatch(r"  ([a-z0-9-]+):", line):
            service = match.group(1)
        elif match := re.fullmatch(r"\s+command: (\[.*\])", line):
            found[service] = json.loads(match.group(1))
    return found


def test_compose_runs_two_app_nodes_each_worker_and_names_only_real_commands():
    commands = compose_commands()

    assert {"app-1", "app-2", "worker-pushes", "worker-bulk", "periodic", "migrate"} <= set(
        commands
    )
    assert {"postgres", "redis", "haproxy"} <= set(
        re.findall(r"^  ([a-z0-9-]+):$", (DEPLOY / "compose.yaml").read_text(), re.MULTILINE)
    )
    for service, argv in commands.items():
        if argv[0] == "python":
            check_command(argv, f"compose.yaml {service}")
    assert commands["haproxy"][-1] == "/usr/local/etc/haproxy/haproxy.cfg"


def test_the_dockerfile_starts_the_app_and_installs_the_locked_packages():
    text = (DEPLOY / "Dockerfile").read_text()
    [cmd] = re.findall(r"^CMD (\[.*\])$", text, re.MULTILINE)

    check_command(json.loads(cmd), "Dockerfile CMD")
    assert "pip install --require-hashes -r requirements.txt" in text
    assert "collectstatic" in text


def systemd_commands() -> list[tuple[str, list[str]]]:
    found = []
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        for line in unit.read_text().splitlines():
            if line.startswith(("ExecStart=", "ExecStartPre=")):
                argv = shlex.split(line.split("=", 1)[1].replace("%i", "pushes"))
                if argv[0] == VENV_PYTHON:
                    found.append((unit.name, ["python", *argv[1:]]))
    return found


def test_the_systemd_units_name_only_real_commands():
    commands = systemd_commands()
    names = {unit for unit, _ in commands}

    assert {"backoffice-web.service", "backoffice-worker@.service"} <= names
    for unit in (
        "requeue-pushes", "expire-approvals", "verify-audit", "rollup-dashboard", "purge-cache",
    ):  # fmt: skip
        assert f"backoffice-{unit}.service" in names
        assert (DEPLOY / "systemd" / f"backoffice-{unit}.timer").exists()
    for unit, argv in commands:
        check_command(argv, unit)


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
def test_the_systemd_units_pass_systemd_analyze(tmp_path):
    units = []
    for unit in sorted((DEPLOY / "systemd").iterdir()):
        name = unit.name.replace("@.", "@pushes.")
        (tmp_path / name).write_text(unit.read_text())
        units.append(str(tmp_path / name))

    checked = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True
    )

    # Only the venv is missing on this machine (the units expect the project in /srv/backoffice).
    problems = [
        line for line in checked.stderr.splitlines()
        if line and f"Command {VENV_PYTHON} is not executable" not in line
    ]  # fmt: skip
    assert problems == []


@pytest.mark.skipif(not shutil.which("haproxy"), reason="needs HAProxy (apt-get install haproxy)")
def test_the_haproxy_configuration_is_valid():
    env = {
        **os.environ,
        "HAPROXY_BIND": "127.0.0.1:18650",
        "BACKOFFICE_APP_1": "127.0.0.1:18651",
        "BACKOFFICE_APP_2": "127.0.0.1:18652",
    }
    checked = subprocess.run(
        ["haproxy", "-c", "-f", str(DEPLOY / "haproxy.cfg")],
        env=env,
        capture_output=True,
        text=True,
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr


def docker_works() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


@pytest.mark.skipif(not docker_works(), reason="needs a running Docker daemon")
def test_compose_config_is_valid_and_the_image_builds():
    env = {**os.environ, "SECRET_KEY": "compose-config-check"}
    config = subprocess.run(
        ["docker", "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "--quiet"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert config.returncode == 0, config.stderr
    build = subprocess.run(
        ["docker", "build", "-f", str(DEPLOY / "Dockerfile"), "-t", "backoffice-ci", str(ROOT)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]
