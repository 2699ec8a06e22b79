"""Encrypt the personal values of the audit entries written before they were encrypted, once.

Entries about a consumer written before migration 0007 hold names and reasons in plain text. This
migration gives each such entry its person (`subject`: the consumer ref, since the old entries do
not say which guest the consumer had) and seals its record name, reason and field values under
that person's key, as new entries are written. An entry's hash covers those values, so the entries
from the first one changed onward are hashed again, each over its new content and the new hash of
the entry before it.

Rewriting hashes is what tampering looks like, so it is done in the open: the chain is verified
first (a broken chain is not re-hashed, which would launder the break), a signed checkpoint
records the old head *before*, and one signed *after* records the new head and where re-hashing
began (`rechained_from`). `verify_audit` then checks the checkpoints signed before the migration
by their signatures only, for the hashes they recorded are gone; AUDIT_CHECKPOINT_KEY, which the
database does not hold, vouches for the whole step.

Without AUDIT_CHECKPOINT_KEY it refuses to run on a log that needs it (outside DEBUG), naming the
setting; an empty log, or one without entries about consumers, needs nothing.
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import migrations
from django.utils import timezone

CHUNK = 500
GENESIS_HASH = "0" * 64


def _changes(FieldChange: Any, entry_ids: list[int]) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = {}
    for change in FieldChange._base_manager.filter(entry_id__in=entry_ids).order_by("id"):
        grouped.setdefault(change.entry_id, []).append(change)
    return grouped


def _batches(queryset: Any) -> Any:
    """Yield the entries in sequence order, CHUNK at a time (keyset pages: gaps are no matter)."""
    last = 0
    while True:
        batch = list(queryset.filter(sequence__gt=last).order_by("sequence")[:CHUNK])
        if not batch:
            return
        yield batch
        last = batch[-1].sequence


def _triples(changes: list[Any]) -> list[tuple[str, str, str]]:
    return [(c.field, c.old_value, c.new_value) for c in changes]


def encrypt_existing_entries(apps: Any, schema_editor: Any = None) -> dict[str, int]:
    """Seal the old entries' personal values and re-hash the chain; return what it did."""
    import hashlib

    from audit import personal
    from audit.models import canonical_content
    from audit.services import checkpoint_signature

    AuditEntry = apps.get_model("audit", "AuditEntry")
    FieldChange = apps.get_model("audit", "FieldChange")
    AuditChainHead = apps.get_model("audit", "AuditChainHead")
    AuditCheckpoint = apps.get_model("audit", "AuditCheckpoint")
    AuditSubjectKey = apps.get_model("audit", "AuditSubjectKey")
    AuditSearchWord = apps.get_model("audit", "AuditSearchWord")
    entries = AuditEntry._base_manager
    todo = entries.filter(subject="").exclude(consumer_ref="")
    first = todo.order_by("sequence").values_list("sequence", flat=True).first()
    if first is None:
        return {"sealed": 0, "rehashed": 0}
    sign = bool(settings.AUDIT_CHECKPOINT_KEY)
    if not sign and not settings.DEBUG:
        raise ImproperlyConfigured(
            "Migration audit.0008 encrypts the personal values of existing audit entries and "
            "re-hashes the chain, which must be recorded by signed checkpoints: set "
            "AUDIT_CHECKPOINT_KEY (see docs/privacy.md) and run migrate again."
        )
    head = AuditChainHead._base_manager.select_for_update().filter(pk=1).first()

    def digest(entry: Any, changes: list[Any]) -> str:
        return hashlib.sha256(canonical_content(entry, _triples(changes))).hexdigest()

    # 1. The chain as it is must verify: re-hashing a broken chain would hide the break.
    previous, expected = GENESIS_HASH, 1
    for batch in _batches(entries.all()):
        changes = _changes(FieldChange, [e.pk for e in batch])
        for entry in batch:
            if (
                entry.sequence != expected
                or entry.prev_hash != previous
                or digest(entry, changes.get(entry.pk, [])) != entry.entry_hash
            ):
                raise ImproperlyConfigured(
                    f"verify_audit fails at entry {entry.sequence}, so migration audit.0008 will "
                    "not re-hash the chain over it. Investigate with `manage.py verify_audit` "
                    "before migrating."
                )
            previous, expected = entry.entry_hash, entry.sequence + 1
    newest = expected - 1
    if head is not None and (head.sequence != newest or head.entry_hash != previous):
        raise ImproperlyConfigured(
            f"The audit chain ends at entry {newest} but its head says {head.sequence}: "
            "verify_audit fails, so migration audit.0008 will not re-hash the chain."
        )
    old_head_hash = previous
    now = timezone.now()
    if sign:
        before = AuditCheckpoint(
            sequence=newest,
            entry_hash=old_head_hash,
            created_at=now,
            note=(
                "Before migration audit.0008 encrypted the personal values of entries about "
                f"consumers and re-hashed the chain from entry {first} on."
            ),
        )
        before.signature = checkpoint_signature(before)
        before.save()

    # 2. Seal and re-hash, entry by entry from the first changed one.
    keys: dict[str, bytes] = {}

    def key_of(subject: str) -> bytes:
        if subject not in keys:
            row = AuditSubjectKey._base_manager.filter(subject=subject).first()
            if row is None:
                keys[subject] = personal.new_data_key()
                AuditSubjectKey._base_manager.create(
                    subject=subject, wrapped_key=personal.wrap(keys[subject], subject)
                )
            else:
                keys[subject] = personal.unwrap(row.wrapped_key, subject) or b""
        return keys[subject]

    sealed = rehashed = 0
    previous = entries.filter(sequence=first - 1).values_list("entry_hash", flat=True).first()
    previous = previous or GENESIS_HASH
    for batch in _batches(entries.filter(sequence__gte=first)):
        changes = _changes(FieldChange, [e.pk for e in batch])
        changed_values: list[Any] = []
        words: list[Any] = []
        for entry in batch:
            own = changes.get(entry.pk, [])
            if not entry.subject and entry.consumer_ref:
                entry.subject = entry.consumer_ref[:64]
                key = key_of(entry.subject)
                plain = " ".join(
                    [entry.object_repr, entry.reason]
                    + [f"{c.old_value} {c.new_value}" for c in own]
                )
                words.extend(
                    AuditSearchWord(entry_id=entry.pk, subject=entry.subject, digest=digest)
                    for digest in personal.word_digests(personal.words(plain))
                )
                entry.object_repr = personal.seal(key, entry.subject, entry.object_repr)
                entry.reason = personal.seal(key, entry.subject, entry.reason)
                for change in own:
                    change.old_value = personal.seal(key, entry.subject, change.old_value)
                    change.new_value = personal.seal(key, entry.subject, change.new_value)
                    changed_values.append(change)
                sealed += 1
            entry.prev_hash = previous
            entry.entry_hash = digest(entry, own)
            previous = entry.entry_hash
            rehashed += 1
        FieldChange._base_manager.bulk_update(changed_values, ["old_value", "new_value"])
        AuditSearchWord._base_manager.bulk_create(words)
        entries.bulk_update(batch, ["subject", "object_repr", "reason", "prev_hash", "entry_hash"])
    if head is not None:
        head.entry_hash = previous
        head.save(update_fields=["entry_hash"])
    if sign:
        after = AuditCheckpoint(
            sequence=newest,
            entry_hash=previous,
            # Strictly after "before", which the verification tells apart by time.
            created_at=max(timezone.now(), now + timedelta(microseconds=1)),
            rechained_from=first,
            note=(
                f"After migration audit.0008: {sealed} entries about consumers now keep their "
                f"personal values encrypted; entries {first} to {newest} were re-hashed. The "
                f"head's hash before was {old_head_hash}."
            ),
        )
        after.signature = checkpoint_signature(after)
        after.save()
    return {"sealed": sealed, "rehashed": rehashed}


class Migration(migrations.Migration):
    dependencies = [("audit", "0008_personal_values")]

    operations = [
        migrations.RunPython(encrypt_existing_entries, migrations.RunPython.noop, elidable=True)
    ]
