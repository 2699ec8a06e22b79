"""Screenshots of the main pages for docs/screenshots: `make screenshots` (not part of `make test`).

It runs as a pytest module so it gets the live server, the CDP sandbox and the browser of the
browser tests; the file name keeps it out of the normal test run.
"""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from audit.services import RequestMeta
from cdp_sandbox import seed
from cdp_sandbox.server import Fault
from consumers import bulk, edits, pushes, services
from tests.conftest import CONSUMER_REF, GUEST_REF, ORDER_REF
from tests.dashboard.test_services import save
from tests.e2e.test_edit_flow import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LAPTOP = {"width": 1280, "height": 800}
TABLET = {"width": 768, "height": 1024}


def history(agent, supervisor):
    """Two weeks of saves for the dashboard and the audit log, and one of each push state."""
    now = timezone.now()
    for day in range(14):
        for number in range(3 + day % 4):
            outcome = "failed" if number == 4 else "conflict" if number == 5 else "succeeded"
            field = ("last_name", "first_name", "title", "guest_ref")[number % 4]
            user = agent if number % 3 else supervisor
            save(user, outcome, field, when=now - timedelta(days=day, hours=number))
    consumer = services.consumer_fetch(ref=CONSUMER_REF)
    pushes.consumer_push_update(
        consumer=consumer,
        data={**consumer.editable_values(), "last_name": "Beirne"},
        loaded_modified_at=consumer.cdp_modified_at,
        user=agent,
        meta=RequestMeta(ip_address="203.0.113.7", user_agent="Firefox"),
        reason="Customer called: spelling on the passport",
    )


def shoot(page, name: str, *, full_page: bool = False) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=OUT / f"{name}.png", full_page=full_page)


def test_take_the_screenshots(browser, live_server, agent, supervisor, sandbox, settings):
    settings.CDP_DEMO_ORDER_REFS = seed.demo_order_refs()[:3]
    history(agent, supervisor)
    context = browser.new_context(
        base_url=live_server.url, viewport=LAPTOP, reduced_motion="reduce"
    )
    page = context.new_page()
    sign_in(page, "supervisor", "supervisor-password")

    page.goto(f"/orders/{ORDER_REF}/")
    shoot(page, "order")
    page.goto(f"/consumers/{CONSUMER_REF}/")
    page.goto("/")
    shoot(page, "home")
    page.goto("/find/?q=byrne")
    shoot(page, "search-results")
    page.goto(f"/consumers/{CONSUMER_REF}/")
    shoot(page, "consumer", full_page=True)

    page.goto(f"/consumers/{CONSUMER_REF}/edit/")
    page.get_by_label("Last name").fill("o'neill")
    page.get_by_label("Guest", exact=True).fill(seed.make_ref("guest", 1))
    expect(page.get_by_test_id("guest-hint")).to_contain_text("Aoife")
    shoot(page, "edit-with-suggestions")

    page.get_by_label("Guest", exact=True).fill("byrne")
    expect(page.get_by_test_id("guest-options").get_by_role("option")).to_have_count(3)
    page.keyboard.press("ArrowDown")
    shoot(page, "edit-guest-picker")
    page.keyboard.press("Escape")
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("?")
    expect(page.get_by_test_id("shortcuts-help")).to_be_visible()
    shoot(page, "shortcuts-help")
    page.keyboard.press("Escape")

    sandbox.change_consumer(CONSUMER_REF, firstName="William")
    page.get_by_label("Last name").fill("Beirne-Walsh")
    page.get_by_label("Guest", exact=True).fill(GUEST_REF)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("conflict-table")).to_be_visible()
    shoot(page, "conflict")

    # Another consumer's guest re-link by the agent, waiting for a supervisor's approval.
    other = services.consumer_fetch(ref=seed.make_ref("consumer", 1))
    loaded = other.editable_values()
    held = edits.consumer_edit_save(
        consumer=other, data={**loaded, "guest_ref": seed.make_ref("guest", 2)},
        loaded_values=loaded, loaded_modified_at=other.cdp_modified_at, user=agent,
        meta=RequestMeta(), reason="The booker called: this is her daughter's profile.",
    ).held  # fmt: skip
    assert held is not None
    page.goto(held.url)
    shoot(page, "approval", full_page=True)

    job = bulk.bulk_refresh_start(
        user=supervisor, refs=[seed.make_ref("consumer", number) for number in range(12)]
    )
    sandbox.inject(
        Fault(path=f"/v2/orderConsumers/{seed.make_ref('consumer', 5)}", status=503, times=None)
    )
    bulk.bulk_refresh_run(job_id=job.pk)
    page.goto(f"/bulk/{job.pk}/")
    shoot(page, "bulk-refresh", full_page=True)

    page.goto(f"/orders/{ORDER_REF}/?surname=Beirne")
    shoot(page, "order-surname-preview", full_page=True)
    page.get_by_role("button", name="Save all").click()
    expect(page.get_by_test_id("row-result").first).to_be_visible()
    shoot(page, "order-inline-results", full_page=True)

    page.goto("/dashboard/")
    shoot(page, "dashboard", full_page=True)
    page.goto("/audit/")
    shoot(page, "audit-log")

    page.get_by_test_id("current-user").click()
    page.get_by_role("button", name="Dark theme").click()
    page.goto("/dashboard/")
    shoot(page, "dashboard-dark", full_page=True)
    page.goto(f"/consumers/{CONSUMER_REF}/")
    shoot(page, "consumer-dark")

    tablet = browser.new_context(base_url=live_server.url, viewport=TABLET, reduced_motion="reduce")
    page = tablet.new_page()
    sign_in(page, "agent", "agent-password")
    page.goto(f"/orders/{ORDER_REF}/")
    shoot(page, "order-tablet")
    page.goto(f"/consumers/{CONSUMER_REF}/edit/")
    shoot(page, "edit-tablet")
    context.close()
    tablet.close()
