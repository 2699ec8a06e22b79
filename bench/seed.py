"""Seed a database at a real support team's scale, in minutes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench python -m bench.seed \
        [--consumers 100000] [--entries 1000000] [--users 200]

Creates users, orders and cached consumers with realistic names, and a valid, hash-chained audit
log spread over two years (so `verify_audit` and the CSV export work on it as on real data).
Everything is drawn from a seeded random generator: two runs give the same data.
"""

import argparse
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

FIRST = [
    "Liam",
    "Aoife",
    "Noah",
    "Emma",
    "Jack",
    "Saoirse",
    "James",
    "Olivia",
    "Oliver",
    "Amelia",
    "Luca",
    "Sofia",
    "Mateo",
    "Lucía",
    "Hugo",
    "Chloé",
    "Louis",
    "Léa",
    "Finn",
    "Hannah",
    "Leon",
    "Mia",
    "Ahmed",
    "Fatima",
    "Yusuf",
    "Aisha",
    "Hiroshi",
    "Yuki",
    "Wei",
    "Mei",
    "Arjun",
    "Priya",
    "Lars",
    "Ingrid",
    "Mikael",
    "Astrid",
    "Giulia",
    "Marco",
    "Anna",
    "Jan",
    "Piotr",
    "Zofia",
    "Tomás",
    "Niamh",
    "Seán",
    "Ciara",
]
LAST = [
    "Byrne",
    "Murphy",
    "Kelly",
    "O'Sullivan",
    "Walsh",
    "Smith",
    "Jones",
    "Williams",
    "Brown",
    "Taylor",
    "García",
    "Fernández",
    "López",
    "Martínez",
    "Martin",
    "Bernard",
    "Dubois",
    "Moreau",
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Rossi",
    "Russo",
    "Ferrari",
    "Nowak",
    "Kowalski",
    "Wiśniewski",
    "Jansen",
    "de Vries",
    "Johansson",
    "Andersson",
    "Nielsen",
    "Hansen",
    "Tanaka",
    "Suzuki",
    "Wang",
    "Li",
    "Zhang",
    "Khan",
    "Ali",
    "Hussain",
    "Patel",
    "Sharma",
    "O'Brien",
    "Ryan",
    "Doyle",
    "Clarke",
    "Hughes",
]
TITLES = ["Mr", "Mrs", "Ms", "Miss", "Dr", "Mstr", "Prof", ""]
GENDERS = ["male", "female", "unknown", ""]
STATUSES = ["CONFIRMED", "PURCHASED", "RESERVED", "PAYMENT_PENDING", "CANCELLED"]
BATCH = 5_000


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()


def _ref(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def seed(*, consumers: int, entries: int, users: int, seed_value: int = 2026) -> dict[str, float]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection, transaction

    from accounts import roles
    from audit.models import AuditChainHead, AuditEntry, FieldChange
    from consumers.models import Order, OrderConsumer
    from consumers.search import name_keys

    rng = random.Random(seed_value)
    timings = {}
    now = datetime.now(UTC)

    started = time.monotonic()
    roles.ensure_roles()
    groups = list(Group.objects.filter(name__in=[roles.CUSTOMER_SERVICE, roles.SUPERVISOR]))
    User = get_user_model()
    people = User.objects.bulk_create(
        [User(username=f"agent{n:03d}", password="!") for n in range(users)], ignore_conflicts=True
    )
    people = list(User.objects.filter(username__startswith="agent").order_by("username")[:users])
    for person in people:
        person.groups.add(groups[0] if rng.random() < 0.85 else groups[1])
    timings["users"] = time.monotonic() - started

    started = time.monotonic()
    order_refs = [_ref(rng) for _ in range(max(1, consumers // 4))]
    for start in range(0, len(order_refs), BATCH):
        Order.objects.bulk_create(
            Order(
                ref=ref,
                reference_id=f"{rng.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}{rng.randrange(10**5):05d}-1",
                status=rng.choice(STATUSES),
                ordered_at=now - timedelta(days=rng.randrange(730)),
                raw={"ref": ref},
                fetched_at=now - timedelta(days=rng.randrange(30)),
            )
            for ref in order_refs[start : start + BATCH]
        )
    consumer_refs = []
    for start in range(0, consumers, BATCH):
        batch = []
        for _ in range(min(BATCH, consumers - start)):
            ref, first, last = _ref(rng), rng.choice(FIRST), rng.choice(LAST)
            consumer_refs.append(ref)
            fetched = now - timedelta(days=rng.randrange(30), seconds=rng.randrange(86_400))
            batch.append(
                OrderConsumer(
                    ref=ref,
                    order_ref=rng.choice(order_refs),
                    title=rng.choice(TITLES),
                    first_name=first,
                    last_name=last,
                    **name_keys(first, last),
                    gender=rng.choice(GENDERS),
                    guest_ref=_ref(rng),
                    guest_name=f"{first} {last}",
                    order_item_refs=[_ref(rng), _ref(rng)],
                    cdp_modified_at=fetched,
                    raw={
                        "ref": ref,
                        "firstName": first,
                        "lastName": last,
                        "emails": [f"{first}.{last}@example.com".lower()],
                        "phoneNumbers": [f"+353 1 555 {rng.randrange(10**4):04d}"],
                        "passportNumber": f"P{rng.randrange(10**8):08d}",
                    },
                    fetched_at=fetched,
                    last_viewed_at=fetched,
                )
            )
        OrderConsumer.objects.bulk_create(batch)
    timings["consumers"] = time.monotonic() - started

    started = time.monotonic()
    head = AuditChainHead.objects.filter(pk=1).first()
    sequence = head.sequence if head else 0
    previous = head.entry_hash if head else "0" * 64
    start_time = now - timedelta(days=730)
    step = timedelta(days=730) / max(entries, 1)
    for start in range(0, entries, BATCH):
        rows, changes_for = [], []
        for n in range(start, min(entries, start + BATCH)):
            sequence += 1
            person = people[rng.randrange(len(people))]
            kind = rng.random()
            changes = []
            entry = AuditEntry(
                sequence=sequence,
                action_time=start_time + step * n,
                user_id=person.pk,
                username=person.username,
                ip_address=f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0",
                request_id=uuid.UUID(int=rng.getrandbits(128)).hex,
                prev_hash=previous,
            )
            if kind < 0.8:
                ref = rng.choice(consumer_refs)
                entry.action, entry.consumer_ref = AuditEntry.Action.EDIT, ref
                entry.order_ref = rng.choice(order_refs)
                entry.object_repr = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
                entry.outcome = rng.choices(["succeeded", "failed", "conflict"], [92, 5, 3])[0]
                if entry.outcome == "failed":
                    entry.cdp_status, entry.cdp_message = (
                        400,
                        "lastName: size must be between 0 and 100.",
                    )
                field = rng.choice(["last_name", "first_name", "title", "gender"])
                changes.append((field, rng.choice(LAST), rng.choice(LAST)))
                if rng.random() < 0.2:
                    changes.append(("first_name", rng.choice(FIRST), rng.choice(FIRST)))
            else:
                entry.action = rng.choice(["sign_in", "sign_in", "sign_out", "sign_in_failed"])
                entry.outcome = "failed" if entry.action == "sign_in_failed" else "succeeded"
            entry.entry_hash = entry.compute_hash(changes)
            previous = entry.entry_hash
            rows.append(entry)
            changes_for.append(changes)
        with transaction.atomic():
            created = AuditEntry.objects.bulk_create(rows)
            FieldChange.objects.bulk_create(
                FieldChange(entry=entry, field=f, old_value=old, new_value=new)
                for entry, changes in zip(created, changes_for, strict=True)
                for f, old, new in changes
            )
    AuditChainHead.objects.update_or_create(
        pk=1, defaults={"sequence": sequence, "entry_hash": previous}
    )
    timings["audit entries"] = time.monotonic() - started

    # Fresh planner statistics, as autovacuum would gather them on a database that grew slowly.
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    timings["analyze"] = time.monotonic() - started
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consumers", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=200)
    args = parser.parse_args()
    _setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    started = time.monotonic()
    timings = seed(consumers=args.consumers, entries=args.entries, users=args.users)
    for name, seconds in timings.items():
        print(f"  {name}: {seconds:.1f} s")
    print(f"Seeded in {time.monotonic() - started:.1f} s.")


if __name__ == "__main__":
    main()
