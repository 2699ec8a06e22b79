"""Repeated anonymous or refused requests: the first of a window is an entry, the rest a count that
ends up in the chain as one summary entry, so nobody can grow the append-only log without bound."""

import io
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry, RepeatedEvent
from audit.services import RequestMeta, audit_entry_create_or_count, audit_repeats_flush

FAILED = AuditEntry.Action.SIGN_IN_FAILED
REFUSED = AuditEntry.Action.PERMISSION_DENIED
SUMMARY = re.compile(r"^(\d+) more ")


@pytest.fixture(autouse=True)
def checkpoint_key(settings):
    settings.AUDIT_CHECKPOINT_KEY = "a-key-that-lives-outside-the-database"


@pytest.fixture(autouse=True)
def one_window_per_test(settings):
    """Windows of decades, so a test never straddles one's end: with the real 15 minutes, fifty
    sign-ins made across a quarter hour (:00, :15, ...) were counted in two windows, not one.
    `end_the_windows` ends them where a test needs it."""
    settings.AUDIT_REPEAT_WINDOW_MINUTES = 60 * 24 * 365 * 50


def sign_in(client, username="agent", password="wrong-password", **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def end_the_windows() -> None:
    """Let the open windows run out, as if their minutes had passed (the counters are mutable)."""
    past = timezone.now() - timedelta(hours=1)
    RepeatedEvent.objects.update(window_start=past - timedelta(minutes=15), window_end=past)


def counted(action: str, **filters) -> int:
    """How many such events the chain holds: the entries, plus the repeats their summaries name."""
    total = 0
    for entry in AuditEntry.objects.filter(action=action, **filters):
        summary = SUMMARY.match(entry.reason)
        total += int(summary.group(1)) if summary else 1
    return total


def verify() -> str:
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


def test_fifty_failed_sign_ins_during_a_lockout_are_a_few_entries_and_one_count(client, agent):
    statuses = [sign_in(client).status_code for _ in range(50)]

    assert statuses.count(429) == 46
    assert AuditEntry.objects.filter(action=FAILED).count() == 1
    assert AuditEntry.objects.filter(action=AuditEntry.Action.LOCKED_OUT).count() == 1
    assert RepeatedEvent.objects.get().repeats == 49


def test_the_count_reaches_the_chain_when_the_hourly_verification_runs(client, agent):
    for _ in range(50):
        sign_in(client)
    end_the_windows()

    output = verify()

    assert "Appended 1 summary of repeated events" in output
    assert "Audit log verified" in output
    summary = AuditEntry.objects.filter(action=FAILED).latest("sequence")
    assert summary.reason.startswith("49 more failed sign-ins by agent from 127.0.0.1 between ")
    assert (summary.username, summary.ip_address, summary.outcome) == (
        "agent",
        "127.0.0.1",
        "failed",
    )
    assert counted(FAILED, username="agent") == 50
    assert not RepeatedEvent.objects.exists()
    assert "Audit log verified" in verify()  # and a second run appends nothing more


def test_the_next_event_after_the_window_writes_the_count_before_its_own_entry(client, agent):
    for _ in range(3):
        sign_in(client)
    end_the_windows()

    sign_in(client)

    entries = list(AuditEntry.objects.filter(action=FAILED).order_by("sequence"))
    assert [SUMMARY.match(e.reason) is not None for e in entries] == [False, True, False]
    assert entries[1].reason.startswith("2 more failed sign-ins by agent")
    assert counted(FAILED) == 4
    assert RepeatedEvent.objects.get().repeats == 0


def test_repeated_refused_pages_are_one_entry_and_a_count(client, agent):
    client.force_login(agent)

    for _ in range(20):
        assert client.get(reverse("audit:list")).status_code == 403
    end_the_windows()
    audit_repeats_flush()

    entries = AuditEntry.objects.filter(action=REFUSED).order_by("sequence")
    assert entries.count() == 2
    assert entries[0].object_repr == "GET /audit/"
    assert entries[1].reason.startswith("19 more refused pages by agent from 127.0.0.1 between ")
    assert entries[1].user == agent
    assert counted(REFUSED) == 20


def test_each_user_name_and_address_has_its_own_count(client, agent, supervisor, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for address in ("203.0.113.1", "203.0.113.2"):
        for name in ("agent", "supervisor"):
            sign_in(client, name, HTTP_X_FORWARDED_FOR=address)
            sign_in(client, name, HTTP_X_FORWARDED_FOR=address)

    assert AuditEntry.objects.filter(action=FAILED).count() == 4
    assert sorted(RepeatedEvent.objects.values_list("username", "address", "repeats")) == [
        ("agent", "203.0.113.1", 1),
        ("agent", "203.0.113.2", 1),
        ("supervisor", "203.0.113.1", 1),
        ("supervisor", "203.0.113.2", 1),
    ]


def test_an_address_trying_ever_new_user_names_is_counted_under_one_count(client, db):
    for number in range(40):
        sign_in(client, f"guess-{number}")
    end_the_windows()
    audit_repeats_flush()

    first_entries = AuditEntry.objects.filter(action=FAILED).exclude(reason__regex=SUMMARY.pattern)
    assert first_entries.count() == 11  # ten names of their own, then one for all the others
    others = AuditEntry.objects.get(action=FAILED, reason__contains="under other user names")
    assert others.reason.startswith("29 more failed sign-ins under other user names from 127.0.0.1")
    assert counted(FAILED) == 40


def test_without_a_window_every_event_is_its_own_entry(client, agent, settings):
    settings.AUDIT_REPEAT_WINDOW_MINUTES = 0

    for _ in range(7):
        sign_in(client)

    assert AuditEntry.objects.filter(action=FAILED).count() == 7
    assert not RepeatedEvent.objects.exists()


def test_windows_are_fixed_spans_of_the_configured_minutes(agent, settings):
    settings.AUDIT_REPEAT_WINDOW_MINUTES = 10
    meta = RequestMeta(ip_address="198.51.100.7")

    entry = audit_entry_create_or_count(
        user=agent, meta=meta, action=REFUSED, outcome="failed", object_repr="GET /x/"
    )
    counter = RepeatedEvent.objects.get()

    assert entry is not None
    assert counter.first_sequence == entry.sequence
    assert counter.window_end - counter.window_start == timedelta(minutes=10)
    assert counter.window_start <= entry.action_time < counter.window_end
    assert (counter.window_start.minute % 10, counter.window_start.second) == (0, 0)
    second = audit_entry_create_or_count(
        user=agent, meta=meta, action=REFUSED, outcome="failed", object_repr="GET /y/"
    )
    assert second is None


def test_a_window_without_repeats_leaves_no_summary(agent):
    meta = RequestMeta(ip_address="198.51.100.7")
    audit_entry_create_or_count(user=agent, meta=meta, action=REFUSED, outcome="failed")
    end_the_windows()

    assert audit_repeats_flush() == 0
    assert AuditEntry.objects.count() == 1
    assert not RepeatedEvent.objects.exists()


def test_the_summary_names_when_the_repeats_happened(agent):
    meta = RequestMeta(ip_address="198.51.100.7")
    for _ in range(3):
        audit_entry_create_or_count(user=agent, meta=meta, action=REFUSED, outcome="failed")
    counter = RepeatedEvent.objects.get()
    first = datetime(2026, 3, 1, 10, 0, 5, tzinfo=UTC)
    RepeatedEvent.objects.update(
        first_repeat_at=first, last_repeat_at=first + timedelta(minutes=9), window_end=first
    )

    audit_repeats_flush()

    summary = AuditEntry.objects.latest("sequence")
    assert summary.reason == (
        "2 more refused pages by agent from 198.51.100.7 between 2026-03-01 10:00:05 and "
        f"2026-03-01 10:09:05 UTC, after entry {counter.first_sequence}; counted, not written "
        "one by one."
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks need PostgreSQL; CI runs the suite on it"
)
def test_concurrent_repeats_make_one_entry_and_lose_no_count(django_user_model):
    user = django_user_model.objects.create_user(username="refused")
    meta = RequestMeta(ip_address="198.51.100.9")
    errors = []

    def refuse_ten_pages():
        try:
            for _ in range(10):
                audit_entry_create_or_count(user=user, meta=meta, action=REFUSED, outcome="failed")
        except Exception as error:  # collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=refuse_ten_pages) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    end_the_windows()
    audit_repeats_flush()

    assert errors == []
    assert AuditEntry.objects.filter(action=REFUSED).count() == 2
    assert counted(REFUSED) == 80
