"""The benchmark seed, small: the data it makes is what the app itself would have written."""

import pytest

from audit.models import AuditEntry
from audit.services import audit_chain_verify
from bench.seed import seed
from consumers.models import OrderConsumer


@pytest.mark.django_db(transaction=True)  # VACUUM on PostgreSQL cannot run in a transaction
def test_the_seed_makes_consumers_and_a_chained_audit_log_spread_over_two_years():
    seed(consumers=60, entries=400, users=5)

    assert OrderConsumer.objects.count() == 60
    assert audit_chain_verify().entries == AuditEntry.objects.count() >= 400
    oldest, newest = (
        AuditEntry.objects.order_by(order).values_list("action_time", flat=True)[0]
        for order in ("sequence", "-sequence")
    )
    assert (newest - oldest).days > 600
    assert AuditEntry.objects.values("username").distinct().count() > 1
