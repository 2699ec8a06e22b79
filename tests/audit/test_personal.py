"""Personal values in the audit log are encrypted per person, and forgetting a person shreds their
key: the values read "erased" everywhere while the chain still verifies and still catches
tampering."""

import base64
import csv
import importlib
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.urls import reverse

from audit import personal
from audit.models import AuditCheckpoint, AuditEntry, AuditSubjectKey
from audit.services import (
    RequestMeta,
    audit_checkpoint_create,
    audit_entries_reveal,
    audit_entry_create,
    audit_entry_search,
    audit_key_rotate,
    audit_subjects_shred,
)

META = RequestMeta(ip_address="198.51.100.7", user_agent="pytest", request_id="personal-test")
ALICE, BOB = "guest-alice", "guest-bob"


@pytest.fixture(autouse=True)
def checkpoint_key(settings):
    settings.AUDIT_CHECKPOINT_KEY = "a-key-that-lives-outside-the-database"


def edit_of(user, subject: str, name: str, *, consumer_ref: str = "consumer-1") -> AuditEntry:
    return audit_entry_create(
        user=user,
        meta=META,
        action=AuditEntry.Action.EDIT,
        outcome=AuditEntry.Outcome.SUCCEEDED,
        consumer_ref=consumer_ref,
        object_repr=f"{name} Traveller",
        changes={"last_name": (f"Old{name}", f"New{name}")},
        reason=f"{name} asked for it",
        subject=subject,
    )


def verify() -> str:
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


def database_text() -> str:
    """Everything the audit tables hold, as one text: what a stolen dump would show."""
    with connection.cursor() as cursor:
        parts = []
        for table in ("audit_auditentry", "audit_fieldchange", "audit_auditsubjectkey"):
            cursor.execute(f"SELECT * FROM {table}")
            parts += [str(row) for row in cursor.fetchall()]
    return "\n".join(parts)


def test_personal_values_are_stored_encrypted_and_shown_in_clear(agent):
    entry = edit_of(agent, ALICE, "Alice")

    stored = database_text()
    assert "Alice" not in stored
    assert entry.object_repr.startswith("pv1$")
    [shown] = audit_entries_reveal([AuditEntry.objects.prefetch_related("changes").get()])
    assert (shown.record_text, shown.reason_text) == ("Alice Traveller", "Alice asked for it")
    [change] = shown.changes.all()
    assert (change.old_text, change.new_text) == ("OldAlice", "NewAlice")
    # What is not personal stays as it was, readable with the database alone.
    assert (entry.username, entry.consumer_ref, entry.request_id) == (
        "agent",
        "consumer-1",
        "personal-test",
    )


def test_entries_about_no_one_stay_in_clear(agent):
    entry = audit_entry_create(
        user=agent,
        meta=META,
        action=AuditEntry.Action.CREDENTIALS,
        outcome=AuditEntry.Outcome.SUCCEEDED,
        object_repr="CDP connection Sandbox",
    )

    assert entry.object_repr == "CDP connection Sandbox"
    assert entry.subject == ""


def test_shredding_a_person_erases_their_values_and_only_theirs(agent):
    edit_of(agent, ALICE, "Alice")
    edit_of(agent, BOB, "Bob", consumer_ref="consumer-2")

    shredded = audit_subjects_shred(subjects={ALICE})

    assert (shredded.keys, shredded.entries) == (1, 1)
    alice, bob = audit_entries_reveal(
        AuditEntry.objects.prefetch_related("changes").order_by("sequence")
    )
    assert (alice.record_text, alice.reason_text) == ("erased", "erased")
    assert [(c.old_text, c.new_text) for c in alice.changes.all()] == [("erased", "erased")]
    assert bob.record_text == "Bob Traveller"
    assert AuditSubjectKey.objects.get(subject=ALICE).wrapped_key == ""


def test_the_chain_verifies_after_shredding_and_still_catches_tampering(agent):
    edit_of(agent, ALICE, "Alice")
    edit_of(agent, BOB, "Bob")
    audit_checkpoint_create()
    audit_subjects_shred(subjects={ALICE})

    assert "2 entries, chain and checkpoints intact" in verify()

    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditentry SET reason = %s WHERE sequence = 1", ["pv1$AAAA"])
    with pytest.raises(CommandError, match=r"Entry 1 .* was changed after it was written"):
        verify()


def test_shredded_values_cannot_be_read_with_the_database_alone(agent, settings):
    edit_of(agent, ALICE, "Alice")
    dump_before = database_text()
    # Alice's key is in the database, but only wrapped under a key the database does not hold:
    # with other keys configured (a thief's copy of the database and nothing else), no value opens.
    settings.AUDIT_KEY = [base64.b64encode(b"a-key-an-attacker-would-try-1234").decode()]
    settings.FIELD_ENCRYPTION_KEY = []
    [entry] = audit_entries_reveal(AuditEntry.objects.prefetch_related("changes"))
    assert entry.record_text == personal.UNREADABLE_TEXT
    assert "Alice" not in dump_before

    # Once shredded, not even the right key reads them: the wrapped key is gone.
    settings.AUDIT_KEY = []
    settings.FIELD_ENCRYPTION_KEY = [base64.b64encode(b"tests-only-field-encryption-key!").decode()]
    audit_subjects_shred(subjects={ALICE})
    [entry] = audit_entries_reveal(AuditEntry.objects.prefetch_related("changes"))
    assert entry.record_text == "erased"
    assert AuditSubjectKey.objects.get(subject=ALICE).wrapped_key == ""


def test_an_entry_written_after_the_erasure_keeps_no_personal_value(agent):
    audit_subjects_shred(subjects={ALICE})

    entry = edit_of(agent, ALICE, "Alice")

    assert entry.object_repr == personal.ERASED_VALUE
    assert "Alice" not in database_text()
    assert audit_entries_reveal([entry])[0].record_text == "erased"


def test_losing_the_key_store_loses_only_the_personal_values(agent):
    edit_of(agent, ALICE, "Alice")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditsubjectkey")

    [entry] = audit_entries_reveal(AuditEntry.objects.prefetch_related("changes"))

    assert entry.record_text == personal.UNREADABLE_TEXT
    assert (entry.username, entry.action, entry.outcome, entry.consumer_ref) == (
        "agent",
        "edit",
        "succeeded",
        "consumer-1",
    )
    assert "1 entries, chain and checkpoints intact" in verify()


def test_search_finds_a_word_of_an_encrypted_value_until_the_person_is_erased(agent):
    edit_of(agent, ALICE, "Alice")

    assert audit_entry_search(filters={"q": "newalice"}).count() == 1
    assert audit_entry_search(filters={"q": "asked"}).count() == 1
    audit_subjects_shred(subjects={ALICE})
    assert audit_entry_search(filters={"q": "newalice"}).count() == 0


def test_rotating_the_key_encryption_key_keeps_every_value_readable(agent, settings):
    old = base64.b64encode(b"the-old-audit-key-before-rotate!").decode()
    new = base64.b64encode(b"the-new-audit-key-after-rotation").decode()
    settings.AUDIT_KEY = [old]
    edit_of(agent, ALICE, "Alice")

    settings.AUDIT_KEY = [new, old]
    assert audit_key_rotate() == 1
    assert audit_key_rotate() == 0  # all under the newest already
    settings.AUDIT_KEY = [new]

    [entry] = audit_entries_reveal(AuditEntry.objects.prefetch_related("changes"))
    assert entry.record_text == "Alice Traveller"


def test_the_export_shows_erased_values_as_erased(client, supervisor, agent):
    edit_of(agent, ALICE, "Alice")
    edit_of(agent, BOB, "Bob")
    audit_subjects_shred(subjects={ALICE})
    client.force_login(supervisor)

    response = client.get(reverse("audit:export"), {"action": "edit"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))

    assert {(r["record"], r["old_value"], r["reason"]) for r in rows} == {
        ("erased", "erased", "erased"),
        ("Bob Traveller", "OldBob", "Bob asked for it"),
    }


def test_the_pages_show_erased_values_as_erased(client, supervisor, agent):
    entry = edit_of(agent, ALICE, "Alice")
    audit_subjects_shred(subjects={ALICE})
    client.force_login(supervisor)

    listing = client.get(reverse("audit:list")).content.decode()
    detail = client.get(reverse("audit:detail", args=[entry.pk])).content.decode()

    for page in (listing, detail):
        assert "Alice" not in page
        assert '<span class="diff-old">erased</span>' in page


# --- the one-time migration of entries written before encryption --------------------------------

migration = importlib.import_module("audit.migrations.0009_encrypt_existing_personal_values")


def legacy_entries(user, count: int) -> list[AuditEntry]:
    """Entries as written before personal values were encrypted (no subject, values in clear)."""
    return [
        audit_entry_create(
            user=user,
            meta=META,
            action=AuditEntry.Action.EDIT,
            outcome=AuditEntry.Outcome.SUCCEEDED,
            consumer_ref=f"consumer-{n}" if n != 2 else "",
            object_repr=f"Legacy {n}",
            changes={"last_name": (f"Before{n}", f"After{n}")},
            reason=f"reason {n}",
        )
        for n in range(1, count + 1)
    ]


def run_migration() -> dict[str, int]:
    from django.apps import apps

    with transaction.atomic():
        return migration.encrypt_existing_entries(apps)


def test_the_migration_encrypts_old_entries_between_two_signed_checkpoints(agent):
    legacy_entries(agent, 4)
    old_checkpoint = audit_checkpoint_create()
    assert old_checkpoint is not None

    assert run_migration() == {"sealed": 3, "rehashed": 4}

    assert "Legacy 1" not in database_text()
    assert "Legacy 2" in database_text()  # about no consumer: nothing personal to hide
    entries = audit_entries_reveal(
        AuditEntry.objects.prefetch_related("changes").order_by("sequence")
    )
    assert [e.record_text for e in entries] == ["Legacy 1", "Legacy 2", "Legacy 3", "Legacy 4"]
    assert [e.subject for e in entries] == ["consumer-1", "", "consumer-3", "consumer-4"]
    before, after = AuditCheckpoint.objects.exclude(pk=old_checkpoint.pk).order_by("created_at")
    assert before.note.startswith("Before migration audit.0008")
    assert after.note.startswith("After migration audit.0008: 3 entries")
    assert after.rechained_from == 1
    assert "4 entries, chain and checkpoints intact" in verify()
    # Run again, it finds nothing left to do.
    assert run_migration() == {"sealed": 0, "rehashed": 0}


def test_after_the_migration_tampering_is_still_caught(agent):
    legacy_entries(agent, 3)
    run_migration()
    audit_subjects_shred(subjects={"consumer-1"})
    assert "3 entries" in verify()

    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditentry SET username = 'mallory' WHERE sequence = 3")
    with pytest.raises(CommandError, match="Entry 3"):
        verify()


def test_a_forged_re_hash_record_is_caught(agent):
    legacy_entries(agent, 2)
    audit_checkpoint_create()
    run_migration()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditcheckpoint SET rechained_from = 2 WHERE rechained_from = 1"
        )

    with pytest.raises(CommandError, match="bad signature"):
        verify()


def test_the_migration_refuses_a_chain_that_does_not_verify(agent):
    legacy_entries(agent, 2)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditentry SET username = 'mallory' WHERE sequence = 1")

    with pytest.raises(Exception, match="verify_audit fails at entry 1"):
        run_migration()
