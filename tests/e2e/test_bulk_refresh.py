"""An agent refreshes an order's consumers in bulk and watches the bar move, chunk by chunk."""

import pytest
from playwright.sync_api import expect

from cdp_sandbox import seed
from cdp_sandbox.server import Fault
from consumers import bulk
from consumers.models import BulkRefresh
from consumers.services import consumers_refresh
from tests.conftest import ORDER_REF
from tests.e2e.test_edit_flow import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_bulk_refresh_from_an_order_shows_its_progress_live_and_ends_with_a_table(
    page, agent, sandbox, settings, monkeypatch
):
    settings.CDP_CONCURRENCY = 1  # chunks of two: the order's three consumers take two chunks
    sign_in(page, "agent", "agent-password")
    page.goto(f"/orders/{ORDER_REF}/")
    page.get_by_role("button", name="Refresh in the background, with progress").click()

    expect(page.get_by_role("heading", name="Bulk refresh")).to_be_visible()
    counts = page.get_by_test_id("bulk-counts")
    bar = page.get_by_role("progressbar", name="Consumers refreshed")
    expect(counts).to_have_text("0 of 3 done, 0 failed.")
    expect(page.get_by_test_id("bulk-status")).to_have_text("Queued")
    job = BulkRefresh.objects.get()
    last_ref = list(job.items.values_list("consumer_ref", flat=True))[-1]
    sandbox.inject(Fault(path=f"/v2/orderConsumers/{last_ref}", status=503, times=None))
    seen = []

    def refresh_once_the_page_shows_the_progress(**kwargs):
        # The worker runs here, in the test; before each chunk the open page must have caught up
        # with what is done so far, by polling on its own.
        done = BulkRefresh.objects.get(pk=job.pk).done
        expect(counts).to_have_text(f"{done} of 3 done, 0 failed.")
        seen.append(bar.get_attribute("aria-valuenow"))
        return consumers_refresh(**kwargs)

    monkeypatch.setattr(bulk, "consumers_refresh", refresh_once_the_page_shows_the_progress)
    bulk.bulk_refresh_run(job_id=job.pk)

    assert seen == ["0", "67"]
    expect(counts).to_have_text("3 of 3 done, 1 failed.")
    expect(bar).to_have_attribute("aria-valuenow", "100")
    expect(page.get_by_test_id("bulk-status")).to_have_text("Finished")
    expect(page.get_by_role("button", name="Cancel the refresh")).to_be_hidden()
    rows = page.get_by_test_id("bulk-rows")
    expect(rows.get_by_role("row", name="Mr Liam Byrne")).to_contain_text("Refreshed")
    expect(rows.locator(f'tr[data-ref="{last_ref}"]')).to_contain_text("CDP is unavailable")
    with page.expect_download() as download:
        page.get_by_role("link", name="Failures as CSV").click()
    assert last_ref in download.value.path().read_text()


def test_an_agent_pastes_refs_fixes_a_typo_and_cancels_before_the_worker_starts(page, agent):
    refs = [seed.make_ref("consumer", number) for number in range(3)]
    sign_in(page, "agent", "agent-password")
    page.get_by_role("link", name="Bulk refresh").click()

    page.get_by_label("Consumer refs").fill("\n".join([*refs, "liam"]))
    page.get_by_role("button", name="Start the refresh").click()
    expect(page.get_by_text("1 entry is not an order consumer ref")).to_be_visible()
    expect(page.get_by_label("Consumer refs")).to_have_value("\n".join([*refs, "liam"]))
    page.get_by_label("Consumer refs").fill("\n".join(refs))
    page.get_by_role("button", name="Start the refresh").click()

    expect(page.get_by_test_id("bulk-counts")).to_have_text("0 of 3 done, 0 failed.")
    page.get_by_role("button", name="Cancel the refresh").click()
    expect(page.get_by_role("status")).to_contain_text("Cancelling")
    expect(page.get_by_test_id("bulk-status")).to_have_text("Cancelled")
    expect(page.get_by_test_id("bulk-rows").get_by_text("Skipped")).to_have_count(3)


def test_a_file_too_large_is_refused_in_the_browser_before_it_is_sent(page, agent):
    sign_in(page, "agent", "agent-password")
    page.get_by_role("link", name="Bulk refresh").click()
    page.get_by_label("Consumer refs").fill(seed.make_ref("consumer", 0))
    too_large = {"name": "refs.csv", "mimeType": "text/csv", "buffer": b"x" * (2 * 1024**2 + 1)}
    page.get_by_label("Or a CSV file").set_input_files(too_large)
    expect(page.get_by_text("The file is larger than 2 MB; split it.")).to_be_visible()

    page.get_by_role("button", name="Start the refresh").click()
    expect(page.get_by_label("Or a CSV file")).to_be_focused()
    assert not BulkRefresh.objects.exists()
    small = {"name": "refs.csv", "mimeType": "text/csv", "buffer": b"ref\n"}
    page.get_by_label("Or a CSV file").set_input_files(small)
    expect(page.get_by_text("The file is larger than 2 MB; split it.")).to_be_hidden()
