from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.workers import Heartbeat, worker_name


def worker_arguments(queues: list[str], *, burst: bool = False) -> list[str]:
    """The configured backend's worker command (TASKS_WORKER_COMMAND) for these queues."""
    arguments: list[str] = []
    for part in settings.TASKS_WORKER_COMMAND:
        if part == "{queue_args}":
            arguments += queues
        else:
            arguments.append(part.replace("{queues}", ",".join(queues)))
    return arguments + (list(settings.TASKS_WORKER_BURST) if burst else [])


class Command(BaseCommand):
    help = (
        "Run a tasks worker for the named queues (pushes, bulk) on the backend that TASKS_BACKEND "
        "chooses, recording a heartbeat that /readyz checks. Ctrl-C or SIGTERM stops it after "
        "the task in hand."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("queues", nargs="+", help="the queues to serve: pushes, bulk or both")
        parser.add_argument(
            "--burst", action="store_true", help="run the tasks that are due, then stop"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        queues: list[str] = options["queues"]
        unknown = [queue for queue in queues if queue not in settings.TASKS_QUEUES]
        if unknown:
            known = ", ".join(settings.TASKS_QUEUES)
            raise CommandError(f"No queue {', '.join(unknown)}; the queues are {known}.")
        command, *arguments = worker_arguments(queues, burst=options["burst"])
        heartbeat = Heartbeat(queues=queues, worker=worker_name())
        heartbeat.start()
        try:
            call_command(command, *arguments, verbosity=options["verbosity"])
        finally:
            heartbeat.stop()
