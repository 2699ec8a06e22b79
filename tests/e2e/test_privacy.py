"""Both privacy procedures in a real browser: an agent corrects a person on all their bookings
and watches the job, an administrator forgets a person and the back office forgets them."""

import pytest
from playwright.sync_api import expect

from cdp_sandbox.server import Fault
from consumers import services
from consumers.models import OrderConsumer
from privacy import rectify
from privacy.models import Rectification
from tests.conftest import CONSUMER_REF, GUEST_REF
from tests.e2e.conftest import accessibility_violations
from tests.e2e.test_edit_flow import sign_in
from tests.privacy.conftest import SECOND_REF, THIRD_REF, three_bookings  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_agent_corrects_a_person_on_every_booking_and_sees_each_result(
    page,
    agent,
    sandbox,
    three_bookings,  # noqa: F811
):
    sign_in(page, "agent", "agent-password")
    page.goto(f"/consumers/{CONSUMER_REF}/")
    page.get_by_role("link", name="Correct this person everywhere").click()

    expect(page.get_by_role("heading", name="Records found (3)")).to_be_visible()
    expect(page.get_by_test_id("completeness")).to_contain_text("CDP lists 3 order(s)")
    assert accessibility_violations(page) == []
    page.get_by_label("Last name").fill("Beirne")
    page.get_by_label("Reason").fill("Passport shows Beirne")
    page.get_by_role("button", name="Preview the change per record").click()

    rows = page.get_by_test_id("rectify-rows")
    expect(rows.locator("tr[data-item]")).to_have_count(3)
    expect(rows.locator(".diff-new", has_text="Beirne")).to_have_count(3)
    assert accessibility_violations(page) == []
    # The third record is refused by CDP: it is listed with what to do.
    sandbox.inject(
        Fault(method="POST", path=f"/v2/orderConsumers/{THIRD_REF}", status=400, times=None)
    )
    page.get_by_role("button", name="Correct the chosen records").click()

    expect(page.get_by_test_id("rectify-counts")).to_have_text("0 of 3 done, 0 need you.")
    job = Rectification.objects.get()
    rectify.rectification_run(job_id=job.pk)  # the worker, here in the test

    expect(page.get_by_test_id("rectify-counts")).to_have_text("3 of 3 done, 1 need you.")
    expect(rows.locator(f'tr:has(a:text("{SECOND_REF}"))')).to_contain_text("Corrected in CDP")
    expect(rows.locator(f'tr:has(a:text("{THIRD_REF}"))')).to_contain_text("CDP refused it")
    assert sandbox.consumer(SECOND_REF)["lastName"] == "Beirne"
    assert accessibility_violations(page) == []


def test_an_administrator_forgets_a_person_and_the_back_office_forgets_them(
    new_page, administrator, agent, sandbox
):
    services.consumer_fetch(ref=CONSUMER_REF)
    admin_page = new_page()
    sign_in(admin_page, "administrator", "administrator-password")
    admin_page.get_by_role("link", name="Erasures").click()

    admin_page.get_by_label("Guest ref").fill(GUEST_REF)
    admin_page.get_by_label("Ticket id").fill("DSR-1042")
    admin_page.get_by_label("CDP confirmed the erasure on").fill("2026-11-30")
    admin_page.get_by_role("button", name="Show what it will do").click()
    expect(admin_page.get_by_test_id("erasure-plan")).to_contain_text("1 cached consumers deleted")
    assert accessibility_violations(admin_page) == []
    admin_page.get_by_role("button", name="Forget this person").click()

    expect(admin_page.get_by_role("heading", name="Erasure of ticket DSR-1042")).to_be_visible()
    counts = admin_page.get_by_test_id("erasure-counts")
    expect(counts).to_contain_text("1 cached consumers deleted")
    assert accessibility_violations(admin_page) == []
    assert not OrderConsumer.objects.exists()

    agent_page = new_page()
    sign_in(agent_page, "agent", "agent-password")
    agent_page.goto(f"/consumers/{CONSUMER_REF}/")
    expect(agent_page.get_by_text("erased on")).to_be_visible()
    expect(agent_page.get_by_text("Byrne")).to_have_count(0)
    assert not OrderConsumer.objects.exists()
