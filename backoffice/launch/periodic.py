"""The scheduled jobs as one long-running process, for platforms without cron (the Procfile's
`periodic`, compose's `periodic` service): each job runs at start and then every so often.

| job                                   | every      |
|---------------------------------------|------------|
| requeue_pushes                        | 5 minutes  |
| expire_approvals                      | 5 minutes  |
| verify_audit --checkpoint             | hour       |
| rollup_dashboard                      | hour       |
| purge_cache                           | day        |
| prune_db_task_results (database tasks)| day        |

Where cron or systemd timers exist, use them instead (deploy/systemd/). A job that fails is
logged with its exit code and tried again at its next time; AUDIT_CHECKPOINTS_FILE, if set, is
the checkpoints file verify_audit appends to (keep it outside the database's machine).
"""

import os
import subprocess
import time
from dataclasses import dataclass

from backoffice.launch.processes import MANAGE, ROOT, stop_on_signals


@dataclass
class Job:
    command: list[str]
    every: float  # seconds
    due: float = 0.0  # monotonic time of the next run; 0: at start


def jobs(env: dict[str, str]) -> list[Job]:
    verify = ["verify_audit", "--checkpoint"]
    if env.get("AUDIT_CHECKPOINTS_FILE"):
        verify += ["--checkpoints-file", env["AUDIT_CHECKPOINTS_FILE"]]
    scheduled = [
        Job(["requeue_pushes"], every=float(env.get("REQUEUE_PUSHES_EVERY", 300))),
        Job(["expire_approvals"], every=300),
        Job(verify, every=3600),
        # The dashboard's daily totals of the days that are over; a page view never rolls up.
        Job(["rollup_dashboard"], every=3600),
        Job(["purge_cache"], every=86400),
    ]
    if env.get("TASKS_BACKEND", "database") in ("database", "django_tasks_db.DatabaseBackend"):
        # That backend's finished tasks are rows; RQ expires its own results.
        scheduled.append(Job(["prune_db_task_results", "--min-age-days", "7"], every=86400))
    return scheduled


def run_due(scheduled: list[Job], env: dict[str, str]) -> None:
    now = time.monotonic()
    for job in scheduled:
        if job.due <= now:
            job.due = now + job.every
            finished = subprocess.run([*MANAGE, *job.command], env=env, cwd=ROOT)
            if finished.returncode:
                print(
                    f"{' '.join(job.command)} failed (exit code {finished.returncode})", flush=True
                )


def main() -> None:
    stop_on_signals()
    env = dict(os.environ)
    scheduled = jobs(env)
    try:
        while True:
            run_due(scheduled, env)
            time.sleep(5)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
