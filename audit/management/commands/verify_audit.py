import json
from datetime import UTC, timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from audit.models import AuditCheckpoint
from audit.services import (
    ChainBroken,
    audit_chain_verify,
    audit_checkpoint_create,
    audit_repeats_flush,
)

# Checkpoints are signed hourly from cron; one older than this means that stopped.
CHECKPOINT_MAX_AGE = timedelta(days=1)


class Command(BaseCommand):
    help = (
        "Verify the audit log's hash chain, its end against the chain head, and its signed "
        "checkpoints; exit 1 naming the first entry changed, deleted, inserted or reordered. "
        "With --checkpoint, sign the verified head. Warn when the newest checkpoint is missing "
        "or more than a day old."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--checkpoint",
            action="store_true",
            help="after a successful check, write a signed checkpoint of the newest entry",
        )
        parser.add_argument(
            "--checkpoints-file",
            type=Path,
            help="a JSON-lines file of checkpoints kept outside the database: checked against "
            "the chain, and the new checkpoint (with --checkpoint) is appended to it",
        )

    def handle(
        self, *args: object, checkpoint: bool, checkpoints_file: Path | None, **options: object
    ) -> None:
        external = _read_checkpoints(checkpoints_file)
        # The counts of repeated events whose windows are over go into the chain first, so the
        # checkpoint signed below covers them (AUDIT_REPEAT_WINDOW_MINUTES).
        summaries = audit_repeats_flush()
        if summaries:
            plural = "summary" if summaries == 1 else "summaries"
            self.stdout.write(f"Appended {summaries} {plural} of repeated events.")
        try:
            verified = audit_chain_verify(external_checkpoints=external)
        except ChainBroken as broken:
            raise CommandError(f"Audit log verification FAILED. {broken}") from None
        self.stdout.write(
            f"Audit log verified: {verified.entries} entries, chain and checkpoints intact."
        )
        newest = verified.newest_checkpoint
        if checkpoint:
            made = audit_checkpoint_create()
            if made is None:
                self.stdout.write("The audit log is empty; no checkpoint written.")
                return
            if checkpoints_file:
                with checkpoints_file.open("a", encoding="utf-8") as copy:
                    copy.write(json.dumps(_as_dict(made)) + "\n")
            self.stdout.write(f"Signed a checkpoint at entry {made.sequence}.")
            newest = made
        warning = _unprotected_end(newest, entries=verified.entries)
        if warning:
            self.stdout.write(self.style.WARNING(warning))


def _unprotected_end(newest: AuditCheckpoint | None, *, entries: int) -> str:
    """Say when the newest entries rest on the chain alone (no checkpoint, or an old one).

    The chain head catches entries deleted from the end, unless it was moved back with them;
    only a checkpoint signed after them catches that.
    """
    if not entries:
        return ""
    if newest is None:
        return (
            "Warning: there is no signed checkpoint: entries deleted from the end together with "
            "the chain head would go unnoticed. Run verify_audit --checkpoint hourly from cron."
        )
    if timezone.now() - newest.created_at > CHECKPOINT_MAX_AGE:
        moment = newest.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return (
            f"Warning: the newest signed checkpoint (entry {newest.sequence}) is from {moment}, "
            "more than a day ago: entries since then rest on the chain alone. Is the hourly "
            "verify_audit --checkpoint running?"
        )
    return ""


def _read_checkpoints(path: Path | None) -> list[dict]:
    if path is None or not path.exists():
        return []
    try:
        return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    except ValueError as error:
        raise CommandError(f"{path} is not a JSON-lines checkpoints file: {error}") from None


def _as_dict(checkpoint: AuditCheckpoint) -> dict:
    return {
        "sequence": checkpoint.sequence,
        "entry_hash": checkpoint.entry_hash,
        "created_at": checkpoint.created_at.isoformat(),
        "signature": checkpoint.signature,
    }
