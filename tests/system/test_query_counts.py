"""Every page runs the same number of SQL queries whatever the number of rows it shows."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from audit.services import RequestMeta, audit_entry_create
from consumers import services
from consumers.models import BulkRefresh, BulkRefreshItem, ConsumerView, OrderConsumer, Push
from consumers.notifications import notification_create
from tests.conftest import CONSUMER_REF, ORDER_REF

META = RequestMeta(ip_address="203.0.113.1", user_agent="pytest", request_id="counts")
# The most queries any page may run: session, user, permissions, roles, the CDP connection,
# the navigation's approval badges, the page's own queries (the consumer's page: its changes
# awaiting approval too), the session's idle-timeout refresh, and the person's unread
# notifications (with marking the new ones shown, on the page that first shows them); the
# consumer's page also names the travellers either side of it on the booking (j and k).
BOUND = 21


def make_rows(user, count: int) -> None:
    """Give the pages `count` rows of everything: audit entries with changes, and queued edits."""
    for number in range(count):
        audit_entry_create(
            user=user, meta=META, action=AuditEntry.Action.EDIT, outcome="succeeded",
            consumer_ref=CONSUMER_REF, order_ref=ORDER_REF, object_repr="Liam Byrne",
            changes={"last_name": (f"Old{number}", f"New{number}"), "title": ("Mr", "Dr")},
            reason="counting",
        )  # fmt: skip
        Push.objects.create(
            consumer_ref=CONSUMER_REF, order_ref=ORDER_REF, user=user, status=Push.Status.PENDING,
            changes={"last_name": ["Byrne", f"New{number}"]},
        )  # fmt: skip
        consumer = OrderConsumer.objects.create(
            ref=str(uuid.uuid4()), order_ref="elsewhere", first_name="Byron",
            last_name=f"Test{number}", fetched_at="2026-01-01T00:00:00Z",
        )  # fmt: skip
        ConsumerView.objects.create(user=user, consumer_ref=consumer.ref, viewed_at=timezone.now())
        job = BulkRefresh.objects.order_by("id").first() or BulkRefresh.objects.create(user=user)
        BulkRefreshItem.objects.create(job=job, consumer_ref=consumer.ref, result="refreshed")
        BulkRefresh.objects.create(user=user, total=1, done=1, status="finished")
        notification_create(user=user, message=f"Queued edit {number} reached CDP.", url="/")


def count(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200, (url, response.status_code)
    return len(queries)


JOB = object()  # the bulk refresh the test makes before the first view

PAGES = [
    ("consumers:home", {}, None),
    ("consumers:home", {}, {"kind": "name", "q": "by"}),
    ("consumers:find", {}, {"q": "Test"}),
    ("consumers:bulk_new", {}, None),
    ("consumers:bulk", {"job_id": JOB}, None),
    ("consumers:bulk_progress", {"job_id": JOB}, None),
    ("consumers:detail", {"ref": CONSUMER_REF}, None),
    ("consumers:order", {"ref": ORDER_REF}, None),
    ("consumers:queue", {}, None),
    ("consumers:notifications", {}, None),
    ("audit:list", {}, None),
    ("audit:list", {}, {"field": "last_name"}),
    ("audit:list", {}, {"q": "New1"}),
]


@pytest.mark.parametrize(("name", "kwargs", "params"), PAGES)
def test_a_page_runs_the_same_queries_for_few_or_many_rows(
    client, supervisor, sandbox, name, kwargs, params
):
    client.force_login(supervisor)
    services.order_fetch(ref=ORDER_REF)
    job = BulkRefresh.objects.create(user=supervisor)
    url = reverse(name, kwargs={key: job.pk if v is JOB else v for key, v in kwargs.items()})
    count(client, url, params)  # first view: fetched and cached
    make_rows(supervisor, 2)
    few = count(client, url, params)
    make_rows(supervisor, 30)
    many = count(client, url, params)

    assert many == few
    assert many <= BOUND


def test_an_audit_entry_page_runs_a_bounded_number_of_queries(client, supervisor, sandbox):
    client.force_login(supervisor)
    make_rows(supervisor, 1)
    entry = AuditEntry.objects.filter(action="edit").earliest("sequence")

    assert count(client, reverse("audit:detail", args=[entry.pk])) <= BOUND
