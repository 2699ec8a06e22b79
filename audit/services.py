"""Writing the audit chain, signing checkpoints and verifying both."""

import hashlib
import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, Exists, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone

from audit import personal
from audit.models import (
    GENESIS_HASH,
    SAVE_ACTIONS,
    AuditChainHead,
    AuditCheckpoint,
    AuditEntry,
    AuditSearchWord,
    AuditSubjectKey,
    FieldChange,
    RepeatedEvent,
    checkpoint_content,
)
from core.proxies import client_ip
from core.spreadsheets import csv_cell
from core.typing import Actor

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@dataclass(frozen=True)
class RequestMeta:
    """Where an action came from: the client's IP address, user agent and the request's id."""

    ip_address: str | None = None
    user_agent: str = ""
    request_id: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest) -> "RequestMeta":
        return cls(
            # The same address the sessions, the lockout and the log lines record.
            ip_address=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:512],
            request_id=getattr(request, "id", ""),
        )


def _locked_head() -> AuditChainHead:
    """Lock the chain head for this transaction, creating it on first use."""
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        try:
            with transaction.atomic():
                AuditChainHead.objects.create(pk=1)
        except IntegrityError:
            pass  # another writer created it first
        head = AuditChainHead.objects.select_for_update().get(pk=1)
    return head


def _saved_user(user: Actor) -> "User | None":
    """The user to link an entry to: a saved user, not a request's anonymous one."""
    return user if isinstance(user, get_user_model()) and user.pk else None


def audit_entry_create(
    *,
    user: Actor,
    meta: RequestMeta,
    action: str,
    outcome: str,
    consumer_ref: str = "",
    order_ref: str = "",
    object_repr: str = "",
    changes: dict[str, tuple[str, str]] | None = None,
    cdp_status: int | None = None,
    cdp_message: str = "",
    reason: str = "",
    reverts: AuditEntry | None = None,
    username: str = "",
    supersedes: AuditEntry | None = None,
    subject: str = "",
) -> AuditEntry:
    """Append one entry to the chain, with a row per changed field (`changes`: {field: (old, new)}).

    `username` names who acted when there is no user (a failed sign-in); `supersedes`, the
    pending entry of a queued edit that this entry settles. `subject` names the person the entry
    is about (a guest ref, or a consumer ref without a guest): the record's name, the reason and
    the changes' values are then stored encrypted under that person's key, so that erasing the
    person (`audit_subjects_shred`) leaves them unreadable while the chain still verifies.
    """
    object_repr = object_repr[:200]
    rows = [(field, str(old), str(new)) for field, (old, new) in (changes or {}).items()]
    # Part of the caller's transaction when there is one (a save's outcome and its entry commit
    # together), without a savepoint of its own.
    with transaction.atomic(savepoint=False):
        if subject:
            key = AuditSubjectKey.objects.data_key(subject)

            def hide(text: str) -> str:
                if key is None:  # the person was erased: the value is not kept at all
                    return personal.ERASED_VALUE if text else ""
                return personal.seal(key, subject, text)

            searchable = " ".join([object_repr, reason, *(f"{o} {n}" for _, o, n in rows)])
            object_repr, reason = hide(object_repr), hide(reason)
            rows = [(field, hide(old), hide(new)) for field, old, new in rows]
        # Holding the head's row lock until commit makes concurrent writers take turns.
        head = _locked_head()
        entry = AuditEntry(
            sequence=head.sequence + 1,
            prev_hash=head.entry_hash,
            user=_saved_user(user),
            username=(user.get_username() if user is not None and user.pk else username)[:150],
            ip_address=meta.ip_address,
            user_agent=meta.user_agent[:512],
            request_id=meta.request_id[:64],
            action=action,
            consumer_ref=consumer_ref,
            order_ref=order_ref,
            object_repr=object_repr,
            outcome=outcome,
            cdp_status=cdp_status,
            cdp_message=cdp_message,
            reason=reason,
            reverts=reverts,
            supersedes=supersedes,
            subject=subject[:64],
        )
        entry.entry_hash = entry.compute_hash(rows)
        entry.save()
        FieldChange.objects.bulk_create(
            FieldChange(entry=entry, field=field, old_value=old, new_value=new)
            for field, old, new in rows
        )
        if subject and key is not None:
            digests = personal.word_digests(personal.words(searchable))
            AuditSearchWord.objects.bulk_create(
                AuditSearchWord(entry=entry, subject=entry.subject, digest=digest)
                for digest in digests
            )
        head.sequence, head.entry_hash = entry.sequence, entry.entry_hash
        head.save(update_fields=["sequence", "entry_hash"])
    return entry


# --- repeated events --------------------------------------------------------------------------

# How the summaries name the repeated events; other actions by their label.
_REPEATED: dict[str, str] = {
    AuditEntry.Action.SIGN_IN_FAILED: "failed sign-ins",
    AuditEntry.Action.PERMISSION_DENIED: "refused pages",
    AuditEntry.Action.MFA_FAILED: "failed MFA checks",
}
# One address may have this many user names counted apart in one window; the names it tries
# beyond them share one count, so inventing user names cannot grow the log either.
REPEAT_NAMES_PER_ADDRESS = 10
# Windows are counted from a fixed moment, so every process cuts them alike.
_WINDOWS_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _window(moment: datetime) -> tuple[datetime, datetime] | None:
    """Return the repeat window `moment` falls in, or None when repeats are not folded."""
    minutes = settings.AUDIT_REPEAT_WINDOW_MINUTES
    if minutes <= 0:
        return None
    length = timedelta(minutes=minutes)
    start = _WINDOWS_EPOCH + (moment - _WINDOWS_EPOCH) // length * length
    return start, start + length


def _count_repeat(key: dict, window_start: datetime, now: datetime) -> bool:
    """Count one more repeat of `key` in its window; False when the window has no count yet."""
    moment = Value(now, output_field=DateTimeField())
    return bool(
        RepeatedEvent.objects.filter(**key, window_start=window_start).update(
            repeats=F("repeats") + 1,
            first_repeat_at=Coalesce("first_repeat_at", moment),
            last_repeat_at=moment,
        )
    )


def audit_entry_create_or_count(
    *,
    user: Actor,
    meta: RequestMeta,
    action: str,
    outcome: str,
    username: str = "",
    object_repr: str = "",
) -> AuditEntry | None:
    """Append the first such event of a window as an entry; only count the ones after it (None).

    An event is the same when its action, user name and client address are; the counts reach the
    chain as one summary entry per window (`audit_repeats_flush`). For events anyone can cause
    at will, such as failed sign-ins and refused pages.
    """
    now = timezone.now()
    window = _window(now)
    name = (user.get_username() if user is not None and user.pk else username)[:150]
    if window is None:
        return audit_entry_create(
            user=user, meta=meta, action=action, outcome=outcome, username=name,
            object_repr=object_repr,
        )  # fmt: skip
    key = {"action": action, "username": name, "address": meta.ip_address or ""}
    audit_repeats_flush(now=now, **key)  # this event's earlier windows end up in the chain first
    start, end = window
    with transaction.atomic():
        if _count_repeat(key, start, now):
            return None
        names = RepeatedEvent.objects.filter(
            action=action, address=key["address"], window_start=start
        ).exclude(username="")
        if name and names.count() >= REPEAT_NAMES_PER_ADDRESS:
            key = {**key, "username": ""}
            if _count_repeat(key, start, now):
                return None
        try:
            with transaction.atomic():
                counter = RepeatedEvent.objects.create(
                    **key,
                    user=_saved_user(user),
                    window_start=start,
                    window_end=end,
                )
        except IntegrityError:  # another request began this window a moment ago
            _count_repeat(key, start, now)
            return None
        entry = audit_entry_create(
            user=user, meta=meta, action=action, outcome=outcome, username=name,
            object_repr=object_repr,
        )  # fmt: skip
        counter.first_sequence = entry.sequence
        counter.save(update_fields=["first_sequence"])
    return entry


def audit_repeats_flush(*, now: datetime | None = None, **key: str) -> int:
    """Append a summary entry for each window that is over and had repeats; return how many.

    `key` (action, username, address) limits it to one event's windows.
    """
    now = now or timezone.now()
    written = 0
    over = RepeatedEvent.objects.filter(window_end__lte=now, **key).order_by("window_end", "pk")
    for counter in over:
        with transaction.atomic():
            # Whoever removes the counter writes its summary, so two flushers at once write one;
            # a repeat counted meanwhile leaves the row to the next flush.
            removed, _ = RepeatedEvent.objects.filter(
                pk=counter.pk, repeats=counter.repeats
            ).delete()
            if removed and counter.repeats:
                audit_entry_create(
                    user=counter.user,
                    meta=RequestMeta(ip_address=counter.address or None),
                    action=counter.action,
                    outcome=AuditEntry.Outcome.FAILED,
                    username=counter.username,
                    reason=_summary(counter),
                )
                written += 1
    return written


def _summary(counter: RepeatedEvent) -> str:
    what = _REPEATED.get(counter.action) or AuditEntry.Action(counter.action).label.lower()
    who = f"by {counter.username}" if counter.username else "under other user names"
    first, last = (
        moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else "?"
        for moment in (counter.first_repeat_at, counter.last_repeat_at)
    )
    return (
        f"{counter.repeats} more {what} {who} from {counter.address or 'an unknown address'} "
        f"between {first} and {last} UTC, after entry {counter.first_sequence}; counted, not "
        "written one by one."
    )


# --- checkpoints ------------------------------------------------------------------------------


def _checkpoint_key() -> bytes:
    key = settings.AUDIT_CHECKPOINT_KEY
    if not key:
        raise ImproperlyConfigured(
            "Set AUDIT_CHECKPOINT_KEY to sign audit checkpoints; keep it out of the database."
        )
    return key.encode("utf-8")


def _signature(checkpoint: AuditCheckpoint) -> str:
    return checkpoint_signature(checkpoint)


def checkpoint_signature(checkpoint: Any) -> str:
    """Sign a checkpoint (the model's, or a data migration's historical one)."""
    return hmac.new(_checkpoint_key(), checkpoint_content(checkpoint), hashlib.sha256).hexdigest()


def audit_checkpoint_create() -> AuditCheckpoint | None:
    """Sign the chain's newest entry; return None when the chain is still empty."""
    newest = AuditEntry.objects.order_by("-sequence").only("sequence", "entry_hash").first()
    if newest is None:
        return None
    checkpoint = AuditCheckpoint(sequence=newest.sequence, entry_hash=newest.entry_hash)
    checkpoint.signature = _signature(checkpoint)
    checkpoint.save()
    return checkpoint


# --- verification -----------------------------------------------------------------------------


class ChainBroken(Exception):
    """The audit chain or its checkpoints do not check out; the message names the first problem."""


def _entries_in_order() -> Iterator[AuditEntry]:
    return (
        AuditEntry.objects.order_by("sequence")
        .prefetch_related("changes")
        .iterator(chunk_size=2000)
    )


@dataclass(frozen=True)
class ChainVerified:
    """What a successful verification found: how many entries, and the newest checkpoint's time."""

    entries: int
    newest_checkpoint: AuditCheckpoint | None


def audit_chain_verify(*, external_checkpoints: list[dict] | None = None) -> ChainVerified:
    """Walk the chain, compare its end with the chain head and check every checkpoint.

    Raises ChainBroken naming the first entry that was changed, deleted, inserted or reordered, or
    the first checkpoint the chain no longer matches. `external_checkpoints` are copies kept
    outside the database (dicts with sequence, entry_hash, created_at and signature).
    """
    hashes: dict[int, str] = {}
    checkpoints = list(AuditCheckpoint.objects.order_by("sequence"))
    copies = [
        AuditCheckpoint(
            sequence=int(copy["sequence"]),
            entry_hash=copy["entry_hash"],
            created_at=datetime.fromisoformat(copy["created_at"]),
            signature=copy["signature"],
        )
        for copy in external_checkpoints or []
    ]
    wanted = {c.sequence for c in checkpoints} | {c.sequence for c in copies}
    previous_hash, expected_sequence = GENESIS_HASH, 1
    for entry in _entries_in_order():
        changes = [(c.field, c.old_value, c.new_value) for c in entry.changes.all()]
        if entry.compute_hash(changes) != entry.entry_hash:
            raise ChainBroken(
                f"Entry {entry.sequence} (id {entry.pk}) was changed after it was written: "
                "its content no longer matches its hash."
            )
        if entry.sequence > expected_sequence:
            missing = (
                expected_sequence
                if entry.sequence == expected_sequence + 1
                else (f"{expected_sequence} to {entry.sequence - 1}")
            )
            raise ChainBroken(
                f"Entry {missing} is missing: deleted from before entry {entry.sequence}."
            )
        if entry.prev_hash != previous_hash:
            raise ChainBroken(
                f"Entry {entry.sequence} (id {entry.pk}) does not follow entry "
                f"{entry.sequence - 1}: an entry was inserted, replaced or reordered there."
            )
        if entry.sequence in wanted:
            hashes[entry.sequence] = entry.entry_hash
        previous_hash, expected_sequence = entry.entry_hash, entry.sequence + 1

    newest = expected_sequence - 1
    rechains = [c for c in checkpoints if c.rechained_from is not None]
    for checkpoint in rechains:
        _check_checkpoint(checkpoint, hashes, newest)
    for checkpoint in checkpoints:
        if checkpoint.rechained_from is None:
            _check_checkpoint(checkpoint, hashes, newest, rechains=rechains)
    for checkpoint in copies:
        _check_checkpoint(
            checkpoint, hashes, newest, where="kept outside the database", rechains=rechains
        )
    _check_head(newest, previous_hash)
    signed = max(checkpoints + copies, key=lambda c: c.created_at, default=None)
    return ChainVerified(entries=newest, newest_checkpoint=signed)


def _check_head(newest: int, newest_hash: str) -> None:
    """Compare the end of the walked chain with the head every writer moves along with it.

    The head is read after the walk, so it is never behind an honest chain; it is ahead when
    entries were written meanwhile (they exist, and the next run checks them) or deleted.
    """
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is None:
        if newest:
            raise ChainBroken(
                f"The chain head is missing, though the chain has {newest} entries: it was "
                "deleted, perhaps to hide entries deleted from the end."
            )
        return
    if head.sequence > newest:
        if AuditEntry.objects.filter(sequence=newest + 1).exists():
            return  # written while the chain was walked
        deleted = (
            f"entry {head.sequence}"
            if head.sequence == newest + 1
            else f"entries {newest + 1} to {head.sequence}"
        )
        raise ChainBroken(
            f"The chain ends at entry {newest}, but its head records entry {head.sequence}: "
            f"{deleted} were deleted from the end."
        )
    if head.sequence < newest:
        raise ChainBroken(
            f"Entry {head.sequence + 1} is past the chain head (entry {head.sequence}): entries "
            "were added at the end without the head, or the head was moved back."
        )
    if newest and head.entry_hash != newest_hash:
        raise ChainBroken(
            f"Entry {newest} does not have the hash the chain head records: the newest entry "
            "was replaced."
        )


def _check_checkpoint(
    checkpoint: AuditCheckpoint,
    hashes: dict[int, str],
    newest: int,
    where: str = "",
    rechains: list[AuditCheckpoint] | None = None,
) -> None:
    label = f"Checkpoint at entry {checkpoint.sequence}" + (f" ({where})" if where else "")
    if not hmac.compare_digest(_signature(checkpoint), checkpoint.signature):
        raise ChainBroken(f"{label} has a bad signature: it was forged or changed.")
    for rechain in rechains or []:
        # Signed before a (signed) migration re-hashed the entries it covers: it recorded the
        # old hash, which the migration's own "before" and "after" checkpoints vouch for.
        if (
            checkpoint.created_at < rechain.created_at
            and checkpoint.sequence >= (rechain.rechained_from or 0)
            and checkpoint.sequence <= rechain.sequence
        ):
            return
    if checkpoint.sequence > newest:
        raise ChainBroken(
            f"{label} is past the chain's end (entry {newest}): entries were deleted from the end."
        )
    if hashes.get(checkpoint.sequence) != checkpoint.entry_hash:
        raise ChainBroken(
            f"Entry {checkpoint.sequence} no longer has the hash its signed checkpoint recorded: "
            "the chain up to it was rewritten."
        )


# --- personal values ---------------------------------------------------------------------------


def audit_entries_reveal(entries: Iterable[AuditEntry]) -> list[AuditEntry]:
    """Make the entries' personal values readable for a page, reading all their keys at once.

    Each entry's `record_text` and `reason_text`, and each prefetched change's `old_text` and
    `new_text`, hold the value, or "erased" for a person whose key was shredded.
    """
    entries = list(entries)
    ring = AuditSubjectKey.objects.ring({entry.subject for entry in entries})
    for entry in entries:
        entry.__dict__["record_text"] = ring.reveal(entry.subject, entry.object_repr)
        entry.__dict__["reason_text"] = ring.reveal(entry.subject, entry.reason)
        for change in entry.changes.all():
            change.__dict__["old_text"] = ring.reveal(entry.subject, change.old_value)
            change.__dict__["new_text"] = ring.reveal(entry.subject, change.new_value)
    return entries


@dataclass(frozen=True)
class Shredded:
    """What shredding some people's keys did: keys destroyed, and their entries now unreadable."""

    keys: int
    entries: int


def audit_subjects_shred(*, subjects: set[str]) -> Shredded:
    """Destroy the keys of these people: their audit values read "erased" from now on.

    Nothing in the chain changes, so `verify_audit` passes as before; entries written about them
    later keep no personal value at all.
    """
    subjects = {subject for subject in subjects if subject}
    with transaction.atomic(savepoint=False):
        entries = AuditEntry.objects.filter(subject__in=subjects).count()
        keys = AuditSubjectKey.objects.shred(subjects)
        AuditSearchWord.objects.filter(subject__in=subjects).delete()
    return Shredded(keys=keys, entries=entries)


def audit_key_rotate() -> int:
    """Wrap every live data key again under the newest KEK (AUDIT_KEY's first); return how many.

    The data keys themselves never change (the chain covers what they encrypted), so no entry is
    touched; afterwards the old KEK can be removed from AUDIT_KEY.
    """
    newest = personal.kek_id(personal.key_encryption_keys()[0])
    rotated = 0
    live = AuditSubjectKey.objects.filter(shredded_at__isnull=True).exclude(wrapped_key="")
    for row in live.iterator(chunk_size=500):
        if personal.wrapped_kek_id(row.wrapped_key) == newest:
            continue
        key = personal.unwrap(row.wrapped_key, row.subject)
        if key is None:
            raise personal.AuditKeyMissing(
                f"The key of audit subject {row.subject} is wrapped under key "
                f"{personal.wrapped_kek_id(row.wrapped_key)}, which AUDIT_KEY no longer holds: "
                "put it back at the end of AUDIT_KEY and run this again."
            )
        AuditSubjectKey.objects.filter(pk=row.pk, shredded_at__isnull=True).update(
            wrapped_key=personal.wrap(key, row.subject)
        )
        rotated += 1
    return rotated


# --- reading the log --------------------------------------------------------------------------


def audit_entry_search(*, filters: dict) -> QuerySet[AuditEntry]:
    """Return the entries matching the supervisors' filters, newest first."""
    entries = AuditEntry.objects.all()
    if "consumer_ref" in filters:
        entries = entries.filter(consumer_ref=filters["consumer_ref"].strip())
    if "order_ref" in filters:
        entries = entries.filter(order_ref=filters["order_ref"].strip())
    if "user" in filters:
        # Usernames are case-sensitive in Django; an exact match can use the index.
        entries = entries.filter(username=filters["user"].strip())
    if "date_from" in filters:
        start = _start_of_day(filters["date_from"])
        after = AuditEntry.objects.filter(action_time__gte=_shifted(start, -CLOCK_SKEW))
        first = after.order_by("action_time").values("sequence")[:1]
        entries = entries.filter(action_time__gte=start, sequence__gte=Subquery(first))
    if "date_to" in filters and filters["date_to"] < date.max:  # date.max: no end to the range
        end = _start_of_day(filters["date_to"] + timedelta(1))
        before = AuditEntry.objects.filter(action_time__lt=_shifted(end, CLOCK_SKEW))
        last = before.order_by("-action_time").values("sequence")[:1]
        entries = entries.filter(action_time__lt=end, sequence__lte=Subquery(last))
    if "field" in filters:
        changed = FieldChange.objects.filter(entry=OuterRef("pk"), field=filters["field"])
        entries = entries.filter(Exists(changed))
    if filters.get("action") == "saves":
        entries = entries.filter(action__in=SAVE_ACTIONS)
    elif "action" in filters:
        entries = entries.filter(action=filters["action"])
    if "outcome" in filters:
        entries = entries.filter(outcome=filters["outcome"])
    if filters.get("final"):
        # A queued entry a later one settled: what finally happened is that later entry.
        entries = entries.exclude(Exists(AuditEntry.objects.filter(supersedes=OuterRef("pk"))))
    if filters.get("q", "").strip():
        text = filters["q"].strip()
        in_values = FieldChange.objects.filter(entry=OuterRef("pk")).filter(
            Q(old_value__icontains=text) | Q(new_value__icontains=text)
        )
        # Encrypted values are found by whole words, through their blind index.
        query_words = personal.words(text)
        in_secret = Q(pk__in=[]) if not query_words else Q()
        for word in list(query_words)[:5]:
            digests = personal.word_digests({word}, every_key=True)
            in_secret &= Q(
                Exists(AuditSearchWord.objects.filter(entry=OuterRef("pk"), digest__in=digests))
            )
        entries = entries.filter(
            Q(consumer_ref__iexact=text)
            | Q(order_ref__iexact=text)
            | Q(username=text)
            | Q(request_id=text)
            | Q(object_repr__icontains=text)
            | Q(reason__icontains=text)
            | Exists(in_values)
            | in_secret
        )
    return entries.order_by("-sequence")


# Entries are numbered in the order they are written, and timed by the writing server's clock, so
# a date range is also a range of sequence numbers: found through the time index, it lets the
# newest-first list read a narrow slice of the sequence index, whatever the dates. The margin
# covers clocks of different app servers disagreeing by up to this much; the dates themselves are
# still checked exactly.
CLOCK_SKEW = timedelta(minutes=5)


def _start_of_day(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def _shifted(moment: datetime, delta: timedelta) -> datetime:
    """Return `moment + delta`, held at the first or last moment there is instead of overflowing."""
    try:
        return moment + delta
    except OverflowError:
        return _EARLIEST if delta < timedelta(0) else _LATEST


# CSV column → the entry field it holds; None marks the columns that come from each field change.
EXPORT_COLUMNS = {
    "sequence": "sequence",
    "time_utc": "action_time",
    "user": "username",
    "ip_address": "ip_address",
    "user_agent": "user_agent",
    "request_id": "request_id",
    "action": "action",
    "outcome": "outcome",
    "consumer_ref": "consumer_ref",
    "order_ref": "order_ref",
    "record": "object_repr",
    "field": None,
    "old_value": None,
    "new_value": None,
    "reason": "reason",
    "cdp_status": "cdp_status",
    "cdp_message": "cdp_message",
    "reverts_sequence": "reverts_id",
    "settles_sequence": "supersedes_id",
    "entry_hash": "entry_hash",
}
EXPORT_CHUNK = 2000


def audit_export_rows(entries: QuerySet[AuditEntry]) -> Iterator[list[str]]:
    """Yield the header and one CSV row per changed field (or per entry without changes).

    Reads the entries in keyset chunks of plain tuples, newest first, so a million entries never
    sit in memory at once and no model instances (with their reference cycles) pile up.
    """
    yield list(EXPORT_COLUMNS)
    fields = ["pk", "subject", *(source for source in EXPORT_COLUMNS.values() if source)]
    rows = entries.order_by("-sequence").values_list(*fields)
    last_sequence = None
    while True:
        page = rows if last_sequence is None else rows.filter(sequence__lt=last_sequence)
        chunk = [dict(zip(fields, values, strict=True)) for values in page[:EXPORT_CHUNK]]
        if not chunk:
            return
        changes = _changes_of([entry["pk"] for entry in chunk])
        # Personal values decrypted, or "erased": an export never carries ciphertext.
        ring = AuditSubjectKey.objects.ring({entry["subject"] for entry in chunk})
        # The entries reverted or settled by the chunk's, by sequence number rather than id.
        linked = dict(
            AuditEntry.objects.filter(
                pk__in={
                    entry[link]
                    for entry in chunk
                    for link in ("reverts_id", "supersedes_id")
                    if entry[link]
                }
            ).values_list("pk", "sequence")
        )
        for entry in chunk:
            subject = entry["subject"]
            entry["object_repr"] = ring.reveal(subject, entry["object_repr"])
            entry["reason"] = ring.reveal(subject, entry["reason"])
            entry["action_time"] = entry["action_time"].astimezone(UTC).isoformat()
            entry["reverts_id"] = linked.get(entry["reverts_id"])
            entry["supersedes_id"] = linked.get(entry["supersedes_id"])
            for field, old, new in changes.get(entry["pk"]) or [("", "", "")]:
                change = {
                    "field": field,
                    "old_value": ring.reveal(subject, old),
                    "new_value": ring.reveal(subject, new),
                }
                yield [
                    csv_cell(change[column] if source is None else entry[source])
                    for column, source in EXPORT_COLUMNS.items()
                ]
        last_sequence = chunk[-1]["sequence"]
        del chunk, changes, linked, ring  # let the chunk go before the next one is read


def _changes_of(entry_ids: list[int]) -> dict[int, list[tuple[str, str, str]]]:
    grouped: dict[int, list[tuple[str, str, str]]] = {}
    changes = FieldChange.objects.filter(entry_id__in=entry_ids).order_by("id")
    for entry_id, field, old, new in changes.values_list(
        "entry_id", "field", "old_value", "new_value"
    ):
        grouped.setdefault(entry_id, []).append((field, old, new))
    return grouped
