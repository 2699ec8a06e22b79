import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.services import ChainBroken, audit_chain_verify, audit_checkpoint_create


class Command(BaseCommand):
    help = (
        "Verify the audit log's hash chain and its signed checkpoints; exit 1 naming the first "
        "entry changed, deleted, inserted or reordered. With --checkpoint, sign the verified head."
    )

    def add_arguments(self, parser):
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

    def handle(self, *args, checkpoint: bool, checkpoints_file: Path | None, **options):
        external = _read_checkpoints(checkpoints_file)
        try:
            count = audit_chain_verify(external_checkpoints=external)
        except ChainBroken as broken:
            raise CommandError(f"Audit log verification FAILED. {broken}") from None
        self.stdout.write(f"Audit log verified: {count} entries, chain and checkpoints intact.")
        if checkpoint:
            made = audit_checkpoint_create()
            if made is None:
                self.stdout.write("The audit log is empty; no checkpoint written.")
                return
            if checkpoints_file:
                with checkpoints_file.open("a", encoding="utf-8") as copy:
                    copy.write(json.dumps(_as_dict(made)) + "\n")
            self.stdout.write(f"Signed a checkpoint at entry {made.sequence}.")


def _read_checkpoints(path: Path | None) -> list[dict]:
    if path is None or not path.exists():
        return []
    try:
        return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    except ValueError as error:
        raise CommandError(f"{path} is not a JSON-lines checkpoints file: {error}") from None


def _as_dict(checkpoint) -> dict:
    return {
        "sequence": checkpoint.sequence,
        "entry_hash": checkpoint.entry_hash,
        "created_at": checkpoint.created_at.isoformat(),
        "signature": checkpoint.signature,
    }
