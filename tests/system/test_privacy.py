"""Personal data: lists never show contact or passport details, and old cached copies are purged."""

from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from consumers import bulk, pushes, services
from consumers.models import (
    BulkRefresh,
    BulkRefreshItem,
    ConsumerView,
    Order,
    OrderConsumer,
    Push,
)
from tests.conftest import CONSUMER_REF, ORDER_REF
from tests.consumers.test_pushes import META


def personal_details(sandbox, ref=CONSUMER_REF):
    record = sandbox.consumer(ref)
    return [record["emails"][0], record["phoneNumbers"][0], record["passportNumber"]]


def test_search_and_order_pages_show_no_contact_or_passport_details(agent_client, sandbox):
    order_page = agent_client.get(
        reverse("consumers:order", kwargs={"ref": ORDER_REF})
    ).content.decode()
    search_page = agent_client.get(
        reverse("consumers:home"), {"kind": "name", "q": "byrne"}
    ).content.decode()

    assert "Liam" in order_page
    assert "Liam" in search_page
    for detail in personal_details(sandbox):
        assert detail not in order_page
        assert detail not in search_page


def test_the_consumer_page_shows_contact_details_but_masks_the_passport(agent_client, sandbox):
    email, phone, passport = personal_details(sandbox)

    page = agent_client.get(
        reverse("consumers:detail", kwargs={"ref": CONSUMER_REF})
    ).content.decode()

    assert email in page
    assert phone in page
    assert passport not in page


def test_opening_a_consumer_records_when_it_was_viewed(agent_client, sandbox):
    agent_client.get(reverse("consumers:detail", kwargs={"ref": CONSUMER_REF}))

    assert OrderConsumer.objects.get(ref=CONSUMER_REF).last_viewed_at is not None


def age(days: int) -> None:
    """Make every cached record look `days` old."""
    then = timezone.now() - timedelta(days=days)
    OrderConsumer.objects.update(last_viewed_at=then, fetched_at=then)
    Order.objects.update(fetched_at=then)
    Push.objects.update(finished_at=then)


def test_purge_drops_copies_nobody_viewed_and_keeps_the_audit_log(db, agent, sandbox, settings):
    settings.CACHE_RETENTION_DAYS = 30
    services.order_fetch(ref=ORDER_REF)
    consumer = OrderConsumer.objects.get(ref=CONSUMER_REF)
    pushes.consumer_push_update(
        consumer=consumer,
        data={**consumer.editable_values(), "last_name": "Beirne"},
        loaded_modified_at=consumer.cdp_modified_at,
        user=agent,
        meta=META,
    )
    age(31)
    out = StringIO()

    call_command("purge_cache", stdout=out)

    assert (
        "Dropped 3 consumer(s), 1 order(s) and 1 finished edit(s) not viewed for 30 days, "
        "0 recent view(s) and 0 bulk refresh(es) older than that." in out.getvalue()
    )
    assert not OrderConsumer.objects.exists()
    assert not Push.objects.exists()
    entry = AuditEntry.objects.get(action="edit")
    assert [(c.field, c.old_text, c.new_text) for c in entry.changes.all()] == [
        ("last_name", "Byrne", "Beirne")
    ]


def test_purge_keeps_recently_viewed_consumers_and_their_orders(db, sandbox):
    services.order_fetch(ref=ORDER_REF)
    age(31)
    OrderConsumer.objects.filter(ref=CONSUMER_REF).update(last_viewed_at=timezone.now())

    call_command("purge_cache", "--days", "30", stdout=StringIO())

    assert list(OrderConsumer.objects.values_list("ref", flat=True)) == [CONSUMER_REF]
    assert Order.objects.filter(ref=ORDER_REF).exists()


def test_purge_keeps_consumers_with_an_edit_still_on_its_way(db, agent, sandbox):
    consumer = services.consumer_fetch(ref=CONSUMER_REF)
    Push.objects.create(consumer_ref=CONSUMER_REF, user=agent, status=Push.Status.PENDING)
    age(90)

    call_command("purge_cache", stdout=StringIO())

    assert OrderConsumer.objects.filter(pk=consumer.pk).exists()
    assert Push.objects.filter(status=Push.Status.PENDING).exists()


def test_a_dry_run_deletes_nothing(db, sandbox):
    services.order_fetch(ref=ORDER_REF)
    age(31)
    out = StringIO()

    call_command("purge_cache", "--dry-run", stdout=out)

    assert "Would drop 3 consumer(s)" in out.getvalue()
    assert OrderConsumer.objects.count() == 3


def test_purge_drops_old_recent_views_and_bulk_refreshes(db, agent, sandbox):
    consumer = services.consumer_fetch(ref=CONSUMER_REF)
    services.consumer_mark_viewed(consumer=consumer, user=agent)
    job = bulk.bulk_refresh_start(user=agent, refs=[CONSUMER_REF])
    bulk.bulk_refresh_run(job_id=job.pk)
    recent_job = bulk.bulk_refresh_start(user=agent, refs=[CONSUMER_REF])
    bulk.bulk_refresh_run(job_id=recent_job.pk)
    long_ago = timezone.now() - timedelta(days=31)
    ConsumerView.objects.update(viewed_at=long_ago)
    BulkRefresh.objects.filter(pk=job.pk).update(finished_at=long_ago)

    call_command("purge_cache", "--days", "30", stdout=StringIO())

    assert not ConsumerView.objects.exists()
    assert list(BulkRefresh.objects.values_list("pk", flat=True)) == [recent_job.pk]
    assert not BulkRefreshItem.objects.filter(job_id=job.pk).exists()
