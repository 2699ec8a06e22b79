"""Soak: 1,000 edits of 50 consumers by 8 concurrent agents while a fifth of CDP's answers fail;
and 120 guest re-links held for approval while three supervisors race to decide them.

It runs once per API version: v2's whole-record POST and v2.1's PATCH of the change alone.

At the end every edit has succeeded, failed with a reason, or is a conflict; none is lost or sent
twice; CDP holds each consumer's last succeeded edit; every approval request is decided once, each
approval is one push that CDP took at most once; the audit chain verifies. The figures are
printed (run `make soak` to see them) and recorded in docs/reliability.md.
"""

import copy
import io
import random
import re
import threading
import time
import uuid
from collections import Counter, deque

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from approvals import services as approvals
from approvals.models import ApprovalRequest
from audit.models import AuditEntry
from audit.services import RequestMeta
from cdp.errors import CDPError
from cdp.links import ref_from_link
from cdp_sandbox import seed
from cdp_sandbox.server import Fault
from consumers import edits, pushes, services
from consumers.models import Push
from core.logging import bind_request_id
from tests.conftest import CONSUMER_REF, cdp_path, run_worker, update_method

EDITS, CONSUMERS, AGENTS, SEED = 1_000, 50, 8, 2026
# A fifth of the answers fail, one way or another (each fault draws from the seeded random).
CONSUMER = cdp_path("orderConsumers", ".*")


def faults(update: str) -> list[Fault]:
    """The faults, the updates' sent with `update` (the API version's method)."""
    return [
        Fault(method=update, path=CONSUMER, status=503, fraction=0.04, times=None),
        Fault(method=update, path=CONSUMER, latency=0.4, fraction=0.03, times=None),
        Fault(method=update, path=CONSUMER, reset=True, fraction=0.02, times=None),
        Fault(method="GET", path=CONSUMER, status=502, fraction=0.03, times=None),
        Fault(method="GET", path=CONSUMER, status=429, retry_after=0, fraction=0.02, times=None),
        Fault(method="GET", path=CONSUMER, malformed=True, fraction=0.02, times=None),
        Fault(method="GET", path=CONSUMER, truncated=True, fraction=0.02, times=None),
        Fault(
            method="GET", path=CONSUMER, change={"firstName": "Other"}, fraction=0.02, times=None
        ),
    ]


pytestmark = [
    pytest.mark.soak,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="concurrent agents need a database server; CI runs the soak on PostgreSQL",
    ),
]


@pytest.fixture
def soak_settings(settings):
    settings.CDP_TIMEOUT = 0.3
    settings.CDP_RETRY_ATTEMPTS = 3
    settings.CDP_RETRY_BACKOFF = 0.01
    settings.CDP_RETRY_BACKOFF_MAX = 0.05
    settings.CDP_BREAKER_THRESHOLD = 5
    settings.CDP_BREAKER_COOLDOWN = 0.2
    settings.PUSH_RETRY_DELAY = 0.05
    settings.PUSH_RETRY_DELAY_MAX = 0.5
    settings.PUSH_MAX_ATTEMPTS = 12
    settings.AUDIT_CHECKPOINT_KEY = "soak"


def add_consumers(sandbox) -> list[str]:
    """Give the sandbox 50 more consumers on the first demo order, copied from its first one."""
    template = sandbox.data.consumers[CONSUMER_REF]
    refs = []
    for number in range(CONSUMERS):
        ref = str(uuid.UUID(int=random.Random(number).getrandbits(128), version=4))
        record = copy.deepcopy(template)
        record.update(ref=ref, firstName=f"Traveller{number}", lastName="Original")
        sandbox.data.consumers[ref] = record
        refs.append(ref)
    return refs


def test_no_edit_is_lost_or_duplicated_under_faults_and_concurrency(
    soak_settings, sandbox, django_user_model, monkeypatch, api_version
):
    monkeypatch.setattr(sandbox, "requests", deque(maxlen=1_000_000))  # keep every request
    refs = add_consumers(sandbox)
    agents = [django_user_model.objects.create_user(username=f"agent{n}") for n in range(AGENTS)]
    for fault in faults(update_method()):
        sandbox.inject(fault)
    outcomes: dict[str, str] = {}  # the new last name of each edit → the agent's immediate outcome
    load_failures: Counter[int] = Counter()
    started = time.monotonic()

    def agent_work(number: int):
        rng = random.Random(SEED + number)
        try:
            for edit in range(number, EDITS, AGENTS):
                ref = rng.choice(refs)
                new_name = f"Edit{edit:04d}"
                for _ in range(20):  # the agent reloads the page until CDP answers
                    try:
                        consumer = services.consumer_fetch(ref=ref, with_order=False)
                        break
                    except CDPError:
                        load_failures[number] += 1
                        time.sleep(0.05)
                else:
                    raise AssertionError(f"agent {number} could not load {ref}")
                result = pushes.consumer_push_update(
                    consumer=consumer,
                    data={**consumer.editable_values(), "last_name": new_name},
                    loaded_modified_at=consumer.cdp_modified_at,
                    user=agents[number],
                    meta=RequestMeta(request_id=new_name),
                )
                outcomes[new_name] = result.outcome
        finally:
            connection.close()

    threads = [threading.Thread(target=agent_work, args=(n,)) for n in range(AGENTS)]
    for thread in threads:
        thread.start()
    # The worker runs here, in the main thread (it installs signal handlers), while agents work.
    while any(thread.is_alive() for thread in threads):
        run_worker()
        time.sleep(0.05)
    agents_done = time.monotonic() - started
    # CDP recovers; the worker drains what is left.
    sandbox.clear_faults()
    deadline = time.monotonic() + 60
    while Push.objects.filter(status__in=Push.WAITING).exists() and time.monotonic() < deadline:
        run_worker()
        time.sleep(0.05)
    elapsed = time.monotonic() - started

    # Every edit is accounted for, exactly once, with a final outcome.
    assert len(outcomes) == EDITS
    edits = {push.changes["last_name"][1]: push for push in Push.objects.all()}
    assert set(edits) == set(outcomes), "an edit has no push row"
    finals = Counter(push.status for push in edits.values())
    assert set(finals) <= {Push.Status.SUCCEEDED, Push.Status.CONFLICT, Push.Status.FAILED}, finals
    assert all(push.error for push in edits.values() if push.status == Push.Status.FAILED)

    # The audit log has one final entry per edit and never two successes for one edit.
    final_entries: Counter[str] = Counter()
    last_success: dict[str, tuple[int, str]] = {}
    for entry in (
        AuditEntry.objects.filter(action="edit")
        .exclude(outcome="pending")
        .prefetch_related("changes")
    ):
        new_name = next(c.new_text for c in entry.changes.all() if c.field == "last_name")
        final_entries[new_name] += 1
        if (
            entry.outcome == "succeeded"
            and entry.sequence > last_success.get(entry.consumer_ref, (0, ""))[0]
        ):
            last_success[entry.consumer_ref] = (entry.sequence, new_name)
    assert all(count == 1 for count in final_entries.values()), final_entries.most_common(3)
    assert set(final_entries) == set(edits)

    # CDP applied each edit at most once, and holds each consumer's last succeeded edit.
    applied = Counter(
        request.body["lastName"]
        for method in ("POST", "PUT", "PATCH")
        for request in sandbox.requests_to(method, CONSUMER)
        if request.status == 201
    )
    if api_version == "v2.1":
        # Only the change went out: the last name, never the rest of the record.
        sent = sandbox.requests_to("PATCH", CONSUMER)
        assert sent
        assert all(set(request.body) == {"lastName"} for request in sent)
    assert all(count == 1 for count in applied.values()), applied.most_common(3)
    for ref in refs:
        expected = last_success.get(ref, (0, "Original"))[1]
        assert sandbox.consumer(ref)["lastName"] == expected, ref

    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert "chain and checkpoints intact" in out.getvalue()

    queued_once = sum(1 for push in edits.values() if push.queued_at)
    attempts = sum(push.attempts for push in edits.values())
    statuses = Counter(request.status for request in sandbox.requests)
    print(
        f"\nSoak, API {api_version}: {EDITS} edits of {CONSUMERS} consumers by {AGENTS} agents "
        f"in {elapsed:.1f} s "
        f"(agents done after {agents_done:.1f} s)\n"
        f"  outcomes at save: {dict(Counter(str(o) for o in outcomes.values()))}\n"
        f"  final: {dict(Counter(str(s) for s in finals.elements()))}; "
        f"queued at least once: {queued_once}; attempts: {attempts}\n"
        f"  page loads retried by agents: {sum(load_failures.values())}\n"
        f"  CDP requests: {len(sandbox.requests)}, by answer: {dict(sorted(statuses.items()))}\n"
        f"  updates applied by CDP: {sum(applied.values())} (each edit at most once)\n"
        f"  audit entries: {AuditEntry.objects.count()}, chain verified"
    )


# --- approvals under the same faults -------------------------------------------------------------

REQUESTS, APPROVAL_CONSUMERS, APPROVERS = 120, 20, 3
GUESTS = (seed.make_ref("guest", 0), seed.make_ref("guest", 1))
DECISIONS = re.compile(r"^Approval request (\d+)[,: ]")


def test_no_approval_is_lost_or_applied_twice_under_faults_and_concurrency(
    soak_settings, sandbox, django_user_model, monkeypatch
):
    """Agents re-link guests (half of them with a name change, split) while three supervisors race
    to approve or reject every request, with a fifth of CDP's answers failing."""
    monkeypatch.setattr(sandbox, "requests", deque(maxlen=1_000_000))
    refs = add_consumers(sandbox)[:APPROVAL_CONSUMERS]
    agents = [django_user_model.objects.create_user(username=f"agent{n}") for n in range(AGENTS)]
    supervisors = [
        django_user_model.objects.create_user(username=f"supervisor{n}") for n in range(APPROVERS)
    ]
    approve = Permission.objects.get(codename="approve_approvalrequest")
    for supervisor in supervisors:
        supervisor.user_permissions.add(approve)
    for fault in faults(update_method()):
        sandbox.inject(copy.copy(fault))
    submitted: list[int] = []
    not_submitted: Counter[str] = Counter()
    tries: Counter[str] = Counter()
    agents_done = threading.Event()
    started = time.monotonic()

    def agent_work(number: int):
        rng = random.Random(SEED + number)
        try:
            for edit in range(number, REQUESTS, AGENTS):
                ref = rng.choice(refs)
                for _ in range(20):
                    try:
                        consumer = services.consumer_fetch(ref=ref, with_order=False)
                        break
                    except CDPError:
                        time.sleep(0.05)
                else:
                    raise AssertionError(f"agent {number} could not load {ref}")
                loaded = consumer.editable_values()
                other = GUESTS[1] if loaded["guest_ref"] == GUESTS[0] else GUESTS[0]
                data = {**loaded, "guest_ref": other}
                if edit % 2:
                    data["last_name"] = f"Split{edit:04d}"
                try:
                    saved = edits.consumer_edit_save(
                        consumer=consumer, data=data, loaded_values=loaded,
                        loaded_modified_at=consumer.cdp_modified_at, user=agents[number],
                        meta=RequestMeta(request_id=f"edit-{edit}"), reason=f"Edit {edit}",
                    )  # fmt: skip
                except ValidationError:
                    not_submitted["refused before anything was sent"] += 1
                    continue
                if saved.held is None:
                    # The name's save failed outright: the form came back, nothing was held.
                    not_submitted[f"split save {saved.sent.outcome}"] += 1
                else:
                    submitted.append(saved.held.pk)
        finally:
            connection.close()

    def supervisor_work(number: int):
        rng = random.Random(SEED * 7 + number)
        me = supervisors[number]
        try:
            while True:
                waiting = list(
                    ApprovalRequest.objects.waiting().exclude(requested_by=me)
                    .values_list("pk", flat=True)
                )  # fmt: skip
                if not waiting and agents_done.is_set():
                    return
                rng.shuffle(waiting)
                for pk in waiting:
                    request = ApprovalRequest.objects.get(pk=pk)
                    meta = RequestMeta(request_id=f"approve-{pk}")
                    try:
                        with bind_request_id(meta.request_id):
                            if rng.random() < 0.1:
                                approvals.approval_reject(
                                    request=request, user=me, meta=meta, comment="No."
                                )
                            else:
                                approvals.approval_approve(request=request, user=me, meta=meta)
                        tries["decided"] += 1
                    except approvals.ApprovalRefused:
                        tries["refused: someone else decided first"] += 1
                    except ValidationError:
                        tries["refused: a link did not resolve"] += 1
                time.sleep(0.01)
        finally:
            connection.close()

    workers = [threading.Thread(target=agent_work, args=(n,)) for n in range(AGENTS)]
    deciders = [threading.Thread(target=supervisor_work, args=(n,)) for n in range(APPROVERS)]
    for thread in workers + deciders:
        thread.start()
    while any(thread.is_alive() for thread in workers):
        run_worker()
        time.sleep(0.05)
    agents_done.set()
    while any(thread.is_alive() for thread in deciders):
        run_worker()
        time.sleep(0.05)
    sandbox.clear_faults()
    deadline = time.monotonic() + 60
    while Push.objects.filter(status__in=Push.WAITING).exists() and time.monotonic() < deadline:
        run_worker()
        time.sleep(0.05)
    elapsed = time.monotonic() - started

    # Every request submitted is there, decided once, none left open.
    requests = {request.pk: request for request in ApprovalRequest.objects.all()}
    assert sorted(requests) == sorted(submitted)
    statuses = Counter(request.status for request in requests.values())
    assert set(statuses) <= {"approved", "rejected"}, statuses
    decisions: Counter[int] = Counter()
    for entry in AuditEntry.objects.filter(action__in=["approval_approved", "approval_rejected"]):
        match = DECISIONS.match(entry.reason_text)
        assert match, entry.reason_text
        decisions[int(match[1])] += 1
    assert all(decisions[pk] == 1 for pk in requests), decisions.most_common(3)

    # Each approval became exactly one push, which ended, and CDP took it at most once.
    approval_pushes = Counter(
        int(reason.split()[2])
        for reason in Push.objects.filter(reason__startswith="Approved request ").values_list(
            "reason", flat=True
        )
    )
    approved = [request for request in requests.values() if request.status == "approved"]
    assert all(approval_pushes[request.pk] == 1 for request in approved), approval_pushes
    assert set(approval_pushes) == {request.pk for request in approved}
    pushes_of = Push.objects.in_bulk([request.push_id for request in approved])
    assert all(request.push_id in pushes_of for request in approved)
    finals = Counter(push.status for push in pushes_of.values())
    assert set(finals) <= {Push.Status.SUCCEEDED, Push.Status.CONFLICT, Push.Status.FAILED}, finals
    taken = Counter(
        request.headers.get("X-Request-ID", "")
        for request in sandbox.requests_to("POST", "/v2/orderConsumers/.*")
        if request.status == 201
    )
    assert all(taken[f"approve-{request.pk}"] <= 1 for request in approved)
    assert all(
        taken[f"approve-{request.pk}"] == 1
        for request in approved
        if pushes_of[request.push_id].status == Push.Status.SUCCEEDED
        and not pushes_of[request.push_id].queued_at
    )

    # CDP holds each consumer's guest from its last save that changed the guest.
    last_guest: dict[str, tuple[int, str]] = {}
    for entry in AuditEntry.objects.filter(
        action="edit", outcome="succeeded", changes__field="guest_ref"
    ).prefetch_related("changes"):
        new = next(c.new_text for c in entry.changes.all() if c.field == "guest_ref")
        if entry.sequence > last_guest.get(entry.consumer_ref, (0, ""))[0]:
            last_guest[entry.consumer_ref] = (entry.sequence, new)
    for ref in refs:
        expected = last_guest.get(ref, (0, GUESTS[0]))[1]
        assert ref_from_link(sandbox.consumer(ref).get("guest")) == expected, ref

    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert "chain and checkpoints intact" in out.getvalue()
    print(
        f"\nSoak (approvals): {len(submitted)} requests on {APPROVAL_CONSUMERS} consumers by "
        f"{AGENTS} agents, {APPROVERS} supervisors racing, in {elapsed:.1f} s\n"
        f"  not submitted: {dict(not_submitted)}\n"
        f"  decided: {dict(statuses)}; supervisors' tries: {dict(tries)}\n"
        f"  approvals' pushes: {dict(Counter(str(s) for s in finals.elements()))}, "
        f"each sent at most once\n"
        f"  audit entries: {AuditEntry.objects.count()}, chain verified"
    )
