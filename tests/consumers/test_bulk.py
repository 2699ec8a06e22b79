"""Bulk refresh: refs pasted or uploaded, run chunk by chunk, progress, cancel and failures."""

import base64
import csv
import io
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from cdp.models import CDPConnection
from cdp_sandbox import seed
from cdp_sandbox.server import Fault
from consumers import bulk
from consumers.models import BulkRefresh, BulkRefreshItem, OrderConsumer
from consumers.services import consumers_refresh
from tests.conftest import CONSUMER_REF, ORDER_REF, drop_queued_tasks, queued_tasks, run_worker

REFS = [seed.make_ref("consumer", number) for number in range(6)]
NEW = reverse("consumers:bulk_new")


def job_url(job, name="consumers:bulk"):
    return reverse(name, kwargs={"job_id": job.pk})


def results(job) -> dict[str, str]:
    return dict(job.items.values_list("consumer_ref", "result"))


# --- reading the refs -----------------------------------------------------------------------------


def test_pasted_refs_may_be_one_per_line_or_separated_and_links_count_too():
    link = f"https://api-engage-eu.sitecorecloud.io/v2/orderConsumers/{REFS[2]}"
    text = f"{REFS[0]}\n{REFS[1]}, {link};\t{REFS[0]}\n\n"

    assert bulk.refs_parse(text) == REFS[:3]


def test_pasted_text_that_is_not_a_consumer_ref_is_named_in_the_error():
    order_link = f"https://api-engage-eu.sitecorecloud.io/v2/orders/{ORDER_REF}"

    with pytest.raises(ValidationError) as error:
        bulk.refs_parse(f"{REFS[0]} liam {order_link}")

    # Each shown up to its first 80 characters.
    assert error.value.messages == [
        f"2 entries are not order consumer refs or links to one: liam, {order_link[:80]}."
    ]


def test_a_csv_gives_every_cell_holding_a_ref_whatever_its_column_or_delimiter():
    comma = f"name,consumer ref\nLiam,{REFS[0]}\nAoife,{REFS[1]}\n".encode()
    semicolon = f"\ufeffref;note\n{REFS[2]};called twice\n".encode()

    assert bulk.refs_from_csv(comma) == REFS[:2]
    assert bulk.refs_from_csv(semicolon) == [REFS[2]]


def test_a_csv_without_refs_or_not_in_utf8_is_refused_with_a_reason():
    with pytest.raises(ValidationError, match="holds no order consumer refs"):
        bulk.refs_from_csv(b"name\nLiam\n")
    with pytest.raises(ValidationError, match="not UTF-8"):
        bulk.refs_from_csv("Fernández".encode("latin-1"))


# --- the pages and the worker ---------------------------------------------------------------------


def test_pasted_refs_start_a_refresh_the_worker_runs_to_the_end(agent_client, sandbox):
    sandbox.change_consumer(CONSUMER_REF, lastName="Byrne-Walsh")

    response = agent_client.post(NEW, {"refs": "\n".join(REFS)})

    job = BulkRefresh.objects.get()
    assert response["Location"] == job_url(job)
    assert (job.status, job.total, job.done) == ("queued", 6, 0)
    run_worker()
    job.refresh_from_db()
    assert (job.status, job.done, job.failed, job.percent) == ("finished", 6, 0, 100)
    assert set(results(job).values()) == {"refreshed"}
    assert OrderConsumer.objects.get(ref=CONSUMER_REF).last_name == "Byrne-Walsh"
    page = agent_client.get(job_url(job)).content.decode()
    assert "6 of 6 done, 0 failed." in page
    assert "Byrne-Walsh" in page


def test_an_uploaded_csv_starts_a_refresh_too(agent_client):
    upload = SimpleUploadedFile("refs.csv", f"ref\n{REFS[0]}\n{REFS[1]}\n".encode(), "text/csv")

    agent_client.post(NEW, {"csv_file": upload})

    assert list(BulkRefresh.objects.get().items.values_list("consumer_ref", flat=True)) == REFS[:2]


def test_the_order_page_offers_a_bulk_refresh_of_all_its_consumers(agent_client):
    content = agent_client.get(reverse("consumers:order", kwargs={"ref": ORDER_REF})).content
    order_refs = [consumer.ref for consumer in OrderConsumer.objects.filter(order_ref=ORDER_REF)]

    assert f'action="{NEW}"'.encode() in content
    for ref in order_refs:
        assert ref.encode() in content


def test_bad_input_starts_nothing_and_keeps_what_was_typed(agent_client):
    response = agent_client.post(NEW, {"refs": f"{REFS[0]}\nliam"})

    assert response.status_code == 200
    assert "1 entry is not an order consumer ref or a link to one: liam." in (
        response.content.decode()
    )
    assert REFS[0] in response.content.decode()
    assert not BulkRefresh.objects.exists()
    empty = agent_client.post(NEW, {"refs": "  "})
    assert "Paste some consumer refs or choose a CSV file." in empty.content.decode()


def test_a_good_file_sent_with_bad_pasted_refs_is_asked_for_again_not_lost_silently(agent_client):
    upload = SimpleUploadedFile("refs.csv", REFS[0].encode(), content_type="text/csv")

    response = agent_client.post(NEW, {"refs": "liam", "csv_file": upload})

    assert "Choose the file again once the refs above are mended." in response.content.decode()
    assert not BulkRefresh.objects.exists()


def test_more_refs_than_one_refresh_takes_are_refused(agent_client, settings):
    settings.BULK_REFRESH_MAX_REFS = 2

    response = agent_client.post(NEW, {"refs": " ".join(REFS[:3])})

    assert "3 refs is more than one bulk refresh takes (2); split the list." in (
        response.content.decode()
    )
    assert not BulkRefresh.objects.exists()


def test_failures_are_listed_with_cdps_reason_and_downloadable_as_csv(agent, agent_client, sandbox):
    unknown = str(uuid.uuid4())
    sandbox.inject(Fault(path=f"/v2/orderConsumers/{REFS[1]}", status=503, times=None))
    job = bulk.bulk_refresh_start(user=agent, refs=[REFS[0], REFS[1], unknown])

    bulk.bulk_refresh_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.done, job.failed) == ("finished", 3, 2)
    assert results(job) == {REFS[0]: "refreshed", REFS[1]: "failed", unknown: "failed"}
    response = agent_client.get(job_url(job, "consumers:bulk_failures"))
    assert response["Content-Disposition"] == (
        f'attachment; filename="bulk-refresh-{job.pk}-failures.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["consumer_ref", "error"]
    assert {row[0] for row in rows[1:]} == {REFS[1], unknown}
    reasons = dict(rows[1:])
    assert "CDP is unavailable (HTTP 503 Service Unavailable)" in reasons[REFS[1]]
    assert reasons[unknown] == (
        "Not found in CDP (HTTP 404 Not Found): The specified resource does not exist. "
        f"No order consumer found with ref {unknown}."
    )


def test_the_failures_csv_defuses_text_a_spreadsheet_would_run(agent):
    job = bulk.bulk_refresh_start(user=agent, refs=REFS[:1])
    job.items.update(result=BulkRefreshItem.Result.FAILED, error='=HYPERLINK("http://evil")')
    out = io.StringIO()

    bulk.bulk_refresh_failures_csv(job=job, out=out)

    assert list(csv.reader(io.StringIO(out.getvalue())))[1] == [
        REFS[0],
        '\'=HYPERLINK("http://evil")',
    ]


def test_the_progress_reports_counts_and_the_rows_of_the_page_being_watched(agent, agent_client):
    job = bulk.bulk_refresh_start(user=agent, refs=REFS[:2])
    bulk.bulk_refresh_run(job_id=job.pk)

    progress = agent_client.get(job_url(job, "consumers:bulk_progress")).json()

    assert {k: progress[k] for k in ("status", "over", "total", "done", "failed", "percent")} == {
        "status": "finished",
        "over": True,
        "total": 2,
        "done": 2,
        "failed": 0,
        "percent": 100,
    }
    assert progress["rows"][REFS[0]] == {
        "result": "refreshed",
        "label": "Refreshed",
        "name": "Mr Liam Byrne",
        "error": "",
    }


def test_the_progress_moves_chunk_by_chunk_while_the_worker_runs(
    agent, agent_client, settings, monkeypatch
):
    settings.CDP_CONCURRENCY = 1  # chunks of two
    job = bulk.bulk_refresh_start(user=agent, refs=REFS)
    seen = []

    def refresh_and_look_at_the_progress(**kwargs):
        # What the page would show when the worker starts on each chunk.
        seen.append(agent_client.get(job_url(job, "consumers:bulk_progress")).json()["done"])
        return consumers_refresh(**kwargs)

    monkeypatch.setattr(bulk, "consumers_refresh", refresh_and_look_at_the_progress)
    bulk.bulk_refresh_run(job_id=job.pk)

    assert seen == [0, 2, 4]
    assert agent_client.get(job_url(job, "consumers:bulk_progress")).json()["done"] == 6


def test_a_refresh_cancelled_before_the_worker_starts_skips_everything(agent, agent_client):
    job = bulk.bulk_refresh_start(user=agent, refs=REFS[:3])

    response = agent_client.post(job_url(job, "consumers:bulk_cancel"))

    assert response["Location"] == job_url(job)
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert set(results(job).values()) == {"skipped"}
    assert bulk.bulk_refresh_run(job_id=job.pk) is None


def test_a_running_refresh_stops_at_the_next_chunk_when_cancelled(agent, sandbox):
    job = bulk.bulk_refresh_start(user=agent, refs=REFS)
    BulkRefresh.objects.filter(pk=job.pk).update(status=BulkRefresh.Status.RUNNING)

    assert bulk.bulk_refresh_cancel(job=job)
    bulk.bulk_refresh_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == "cancelled"
    assert job.items.filter(result=BulkRefreshItem.Result.SKIPPED).count() == 6
    assert sandbox.requests_to("GET", "/v2/orderConsumers/.*") == []


def test_another_agent_cannot_open_or_cancel_a_refresh_that_is_not_theirs(
    agent, another_agent, client, supervisor, sandbox
):
    job = bulk.bulk_refresh_start(user=agent, refs=REFS[:1])
    client.force_login(another_agent)

    for name in ("consumers:bulk", "consumers:bulk_progress", "consumers:bulk_failures"):
        assert client.get(job_url(job, name)).status_code == 404, name
    assert client.post(job_url(job, "consumers:bulk_cancel")).status_code == 404
    job.refresh_from_db()
    assert not job.cancel_requested
    with pytest.raises(Http404):
        bulk.bulk_refresh_get(job_id=job.pk, user=another_agent)


def test_the_agent_who_started_it_or_a_supervisor_may_cancel(agent, client, supervisor):
    job = bulk.bulk_refresh_start(user=agent, refs=REFS[:1])

    client.force_login(agent)
    assert b"Cancel the refresh" in client.get(job_url(job)).content
    client.force_login(supervisor)
    assert b"Cancel the refresh" in client.get(job_url(job)).content
    assert client.post(job_url(job, "consumers:bulk_cancel")).status_code == 302
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert bulk.bulk_refresh_get(job_id=job.pk, user=supervisor) == job


def a_refresh_whose_worker_died_after_two_refs(agent, minutes_ago: int) -> BulkRefresh:
    job = bulk.bulk_refresh_start(user=agent, refs=REFS)
    job.items.filter(consumer_ref__in=REFS[:2]).update(result=BulkRefreshItem.Result.REFRESHED)
    BulkRefresh.objects.filter(pk=job.pk).update(
        status=BulkRefresh.Status.RUNNING,
        done=2,
        progressed_at=timezone.now() - timedelta(minutes=minutes_ago),
    )
    drop_queued_tasks()  # its task went with the worker
    return job


def test_a_refresh_whose_worker_died_is_queued_again_and_finishes_only_the_rest(agent, sandbox):
    job = a_refresh_whose_worker_died_after_two_refs(agent, minutes_ago=11)
    out = StringIO()

    call_command("requeue_pushes", stdout=out)
    run_worker()

    assert out.getvalue() == "Queued 0 edit(s) and 1 bulk refresh(es) again.\n"
    job.refresh_from_db()
    assert (job.status, job.done, job.failed) == ("finished", 6, 0)
    fetched = {
        r.path.rsplit("/", 1)[-1] for r in sandbox.requests_to("GET", "/v2/orderConsumers/.*")
    }
    assert fetched == set(REFS[2:])


def test_a_refresh_queued_again_is_not_queued_once_more_while_it_waits_its_turn(agent):
    job = bulk.bulk_refresh_start(user=agent, refs=REFS)
    BulkRefresh.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(hours=1))

    assert bulk.bulk_refresh_requeue_stalled() == 1
    assert bulk.bulk_refresh_requeue_stalled() == 0


def test_a_refresh_that_moved_lately_or_is_over_is_left_alone(agent):
    a_refresh_whose_worker_died_after_two_refs(agent, minutes_ago=5)
    over = bulk.bulk_refresh_start(user=agent, refs=REFS[:1])
    BulkRefresh.objects.filter(pk=over.pk).update(
        status=BulkRefresh.Status.FINISHED, created_at=timezone.now() - timedelta(days=1)
    )
    tasks = queued_tasks()

    assert bulk.bulk_refresh_requeue_stalled() == 0
    assert queued_tasks() == tasks


def test_a_refresh_run_twice_counts_each_consumer_once(agent, sandbox):
    job = bulk.bulk_refresh_start(user=agent, refs=REFS)
    bulk.bulk_refresh_run(job_id=job.pk)
    BulkRefresh.objects.filter(pk=job.pk).update(status=BulkRefresh.Status.RUNNING)
    job.items.filter(consumer_ref=REFS[0]).update(result=BulkRefreshItem.Result.WAITING)

    bulk.bulk_refresh_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.done, job.total) == ("finished", 6, 6)


def test_supervisors_see_every_refresh_still_going_so_they_can_cancel_it(
    agent, client, django_user_model, supervisor
):
    going = bulk.bulk_refresh_start(user=agent, refs=REFS[:1])
    over = bulk.bulk_refresh_start(user=agent, refs=REFS[1:2])
    bulk.bulk_refresh_cancel(job=over)
    client.force_login(supervisor)

    page = client.get(NEW).content.decode()

    assert f'href="{job_url(going)}"' in page
    assert f'href="{job_url(over)}"' not in page
    colleague = django_user_model.objects.create_user(username="colleague")
    colleague.groups.set(agent.groups.all())
    client.force_login(colleague)
    assert "Other agents' refreshes still going" not in client.get(NEW).content.decode()


def test_without_a_usable_cdp_connection_every_ref_fails_with_the_reason(agent, settings):
    settings.FIELD_ENCRYPTION_KEY = [base64.b64encode(b"a" * 32).decode()]
    connection = CDPConnection(name="EU production", client_key="key", is_active=True)
    connection.set_api_token("a-secret-api-token")
    connection.save()
    settings.FIELD_ENCRYPTION_KEY = [base64.b64encode(b"b" * 32).decode()]  # the key was rotated
    job = bulk.bulk_refresh_start(user=agent, refs=REFS[:3])

    bulk.bulk_refresh_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.done, job.failed) == ("finished", 3, 3)
    [error] = set(job.items.values_list("error", flat=True))
    assert error.startswith("The CDP connection “EU production” cannot be used")
