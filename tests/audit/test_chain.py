"""The audit log is append-only and tamper-evident: `verify_audit` names the first broken entry."""

import io
import json
import threading
from datetime import timedelta
from itertools import pairwise

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from audit import services
from audit.models import AppendOnlyError, AuditCheckpoint, AuditEntry, FieldChange
from audit.services import RequestMeta, audit_entry_create

META = RequestMeta(ip_address="198.51.100.4", user_agent="pytest", request_id="chain-test")


@pytest.fixture(autouse=True)
def checkpoint_key(settings):
    settings.AUDIT_CHECKPOINT_KEY = "a-key-that-lives-outside-the-database"


def write_entries(user, count: int) -> list[AuditEntry]:
    return [
        audit_entry_create(
            user=user,
            meta=META,
            action=AuditEntry.Action.EDIT,
            outcome=AuditEntry.Outcome.SUCCEEDED,
            consumer_ref=f"consumer-{number}",
            object_repr=f"Traveller {number}",
            changes={"last_name": (f"Old{number}", f"New{number}")},
        )
        for number in range(1, count + 1)
    ]


def verify(*args) -> str:
    out = io.StringIO()
    call_command("verify_audit", *args, stdout=out)
    return out.getvalue()


def verify_fails(*args) -> str:
    with pytest.raises(CommandError) as caught:
        verify(*args)
    return str(caught.value)


def sql(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def test_entries_form_a_chain_that_verifies(agent):
    entries = write_entries(agent, 5)

    assert [e.sequence for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == "0" * 64
    assert all(later.prev_hash == earlier.entry_hash for earlier, later in pairwise(entries))
    assert "5 entries, chain and checkpoints intact" in verify()


def test_an_empty_log_verifies(db):
    assert "0 entries" in verify()


def test_a_changed_value_is_detected_and_named(agent):
    entries = write_entries(agent, 5)
    sql("UPDATE audit_auditentry SET username = %s WHERE id = %s", ["mallory", entries[2].pk])

    message = verify_fails()
    assert "Entry 3 (id" in message
    assert "was changed after it was written" in message


def test_a_changed_field_change_row_is_detected(agent):
    entries = write_entries(agent, 3)
    sql(
        "UPDATE audit_fieldchange SET new_value = %s WHERE entry_id = %s", ["Forged", entries[1].pk]
    )

    assert "Entry 2 (id" in verify_fails()


def test_a_deleted_entry_is_detected_and_named(agent):
    entries = write_entries(agent, 5)
    sql("DELETE FROM audit_fieldchange WHERE entry_id = %s", [entries[1].pk])
    sql("DELETE FROM audit_auditentry WHERE id = %s", [entries[1].pk])

    assert "Entry 2 is missing: deleted from before entry 3." in verify_fails()


def test_an_inserted_entry_is_detected_and_named(agent):
    write_entries(agent, 3)
    # Make room at position 2 and slip a forged entry in, with a hash of its own content.
    sql("UPDATE audit_auditentry SET sequence = sequence + 10 WHERE sequence >= 2")
    forged = AuditEntry(
        sequence=2, username="mallory", action="edit", outcome="succeeded", prev_hash="0" * 64
    )
    forged.entry_hash = forged.compute_hash([])
    forged.save()

    message = verify_fails()
    assert "Entry 2 (id" in message
    assert "does not follow entry 1" in message


def test_reordered_entries_are_detected(agent):
    entries = write_entries(agent, 4)
    sql("UPDATE audit_auditentry SET sequence = 100 WHERE id = %s", [entries[1].pk])
    sql("UPDATE audit_auditentry SET sequence = 2 WHERE id = %s", [entries[2].pk])
    sql("UPDATE audit_auditentry SET sequence = 3 WHERE id = %s", [entries[1].pk])

    assert "Entry 2 (id" in verify_fails()


def test_rewriting_the_whole_chain_is_caught_by_a_signed_checkpoint(agent):
    write_entries(agent, 4)
    assert "Signed a checkpoint at entry 4." in verify("--checkpoint")
    # An attacker with database access edits entry 2 and recomputes every hash after it.
    sql("UPDATE audit_auditentry SET username = %s WHERE sequence = 2", ["mallory"])
    previous = "0" * 64
    for entry in AuditEntry.objects.order_by("sequence"):
        changes = [(c.field, c.old_value, c.new_value) for c in entry.changes.all()]
        entry.prev_hash = previous
        entry.entry_hash = entry.compute_hash(changes)
        sql(
            "UPDATE audit_auditentry SET prev_hash = %s, entry_hash = %s WHERE id = %s",
            [entry.prev_hash, entry.entry_hash, entry.pk],
        )
        previous = entry.entry_hash

    assert "Entry 4 no longer has the hash its signed checkpoint recorded" in verify_fails()


def test_a_forged_checkpoint_is_detected(agent):
    write_entries(agent, 2)
    verify("--checkpoint")
    sql("UPDATE audit_auditcheckpoint SET signature = %s", ["0" * 64])

    assert "Checkpoint at entry 2 has a bad signature" in verify_fails()


def test_entries_deleted_from_the_end_after_a_checkpoint_are_detected(agent):
    entries = write_entries(agent, 3)
    verify("--checkpoint")
    sql("DELETE FROM audit_fieldchange WHERE entry_id = %s", [entries[2].pk])
    sql("DELETE FROM audit_auditentry WHERE id = %s", [entries[2].pk])

    assert "past the chain's end (entry 2)" in verify_fails()


def delete_newest(entries: list[AuditEntry], count: int) -> None:
    for entry in entries[-count:]:
        sql("DELETE FROM audit_fieldchange WHERE entry_id = %s", [entry.pk])
        sql("DELETE FROM audit_auditentry WHERE id = %s", [entry.pk])


def move_head_to(entry: AuditEntry) -> None:
    sql(
        "UPDATE audit_auditchainhead SET sequence = %s, entry_hash = %s",
        [entry.sequence, entry.entry_hash],
    )


def test_entries_deleted_from_the_end_are_detected_by_the_chain_head(agent):
    entries = write_entries(agent, 5)
    delete_newest(entries, 2)

    message = verify_fails()
    assert "The chain ends at entry 3, but its head records entry 5" in message
    assert "entries 4 to 5 were deleted from the end" in message


def test_the_newest_entry_rewritten_with_a_fresh_hash_is_detected_by_the_chain_head(agent):
    entries = write_entries(agent, 3)
    newest = entries[-1]
    newest.username = "mallory"
    forged = newest.compute_hash([("last_name", "Old3", "New3")])
    sql(
        "UPDATE audit_auditentry SET username = %s, entry_hash = %s WHERE id = %s",
        ["mallory", forged, newest.pk],
    )

    assert "Entry 3 does not have the hash the chain head records" in verify_fails()


def test_entries_appended_past_the_chain_head_are_detected(agent):
    entries = write_entries(agent, 3)
    move_head_to(entries[1])

    assert "Entry 3 is past the chain head (entry 2)" in verify_fails()


def test_a_missing_chain_head_is_detected(agent):
    write_entries(agent, 2)
    sql("DELETE FROM audit_auditchainhead")

    assert "The chain head is missing" in verify_fails()


def test_entries_written_while_the_chain_is_walked_are_not_taken_for_tampering(agent, monkeypatch):
    write_entries(agent, 3)
    walk = services._entries_in_order

    def walk_while_an_agent_saves():
        entries = list(walk())
        write_entries(agent, 1)
        yield from entries

    monkeypatch.setattr(services, "_entries_in_order", walk_while_an_agent_saves)

    assert "Audit log verified: 3 entries" in verify()


def test_deleting_the_newest_entries_and_moving_the_head_is_caught_by_a_checkpoint(agent):
    entries = write_entries(agent, 5)
    verify("--checkpoint")
    delete_newest(entries, 2)
    move_head_to(entries[2])

    assert "past the chain's end (entry 3)" in verify_fails()


def test_without_a_checkpoint_verification_warns_that_the_end_is_unprotected(agent):
    entries = write_entries(agent, 5)
    delete_newest(entries, 2)
    move_head_to(entries[2])

    output = verify()

    assert "Audit log verified: 3 entries" in output
    assert "Warning: there is no signed checkpoint" in output


def test_a_checkpoint_older_than_a_day_is_warned_about(agent):
    write_entries(agent, 2)
    verify("--checkpoint")
    stale = timezone.now() - timedelta(days=1, minutes=1)
    sql("UPDATE audit_auditcheckpoint SET created_at = %s", [stale])
    # Re-signed as if made then: the warning is about its age, not its signature.
    checkpoint = AuditCheckpoint.objects.get()
    sql(
        "UPDATE audit_auditcheckpoint SET signature = %s",
        [services._signature(checkpoint)],
    )

    output = verify()

    assert "Warning: the newest signed checkpoint (entry 2) is from" in output
    assert "more than a day ago" in output


def test_a_fresh_checkpoint_gives_no_warning(agent):
    write_entries(agent, 2)

    assert "Warning" not in verify("--checkpoint")
    assert "Warning" not in verify()


def test_a_checkpoint_copy_kept_outside_the_database_catches_deleted_checkpoints(agent, tmp_path):
    copies = tmp_path / "checkpoints.jsonl"
    write_entries(agent, 3)
    verify("--checkpoint", "--checkpoints-file", str(copies))
    assert json.loads(copies.read_text())["sequence"] == 3
    # The attacker rewrites the chain and deletes the checkpoints the database held.
    sql("DELETE FROM audit_auditcheckpoint")
    sql(
        "UPDATE audit_auditentry SET username = %s, entry_hash = %s WHERE sequence = 3",
        ["x", "f" * 64],
    )

    assert "Entry 3 (id" in verify_fails("--checkpoints-file", str(copies))


def test_checkpoints_need_a_key(agent, settings):
    write_entries(agent, 1)
    settings.AUDIT_CHECKPOINT_KEY = ""

    with pytest.raises(Exception, match="Set AUDIT_CHECKPOINT_KEY"):
        verify("--checkpoint")


def test_the_models_refuse_to_change_or_delete_an_entry(agent):
    [entry] = write_entries(agent, 1)
    entry.username = "mallory"

    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(username="mallory")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        FieldChange.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AuditCheckpoint.objects.all().update(signature="x")
    assert AuditEntry.objects.get().username == "agent"


def test_deleting_a_user_keeps_their_entries_as_they_were(agent):
    write_entries(agent, 2)
    user_id = agent.pk

    agent.delete()

    assert list(AuditEntry.objects.values_list("username", "user_id")) == [("agent", user_id)] * 2
    assert "2 entries" in verify()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks need PostgreSQL; CI runs the suite on it"
)
def test_concurrent_writers_do_not_fork_the_chain(django_user_model):
    user = django_user_model.objects.create_user(username="writer")
    errors = []

    def writer():
        try:
            write_entries(user, 10)
        except Exception as error:  # collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(AuditEntry.objects.values_list("sequence", flat=True)) == list(range(1, 81))
    assert "80 entries" in verify()
