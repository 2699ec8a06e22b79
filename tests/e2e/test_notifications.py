"""An agent whose queued edit lands while they work elsewhere sees it on the next page they open."""

import pytest
from playwright.sync_api import expect

from cdp_sandbox.server import Fault
from tests.conftest import CONSUMER_REF, run_worker
from tests.e2e.conftest import accessibility_violations
from tests.e2e.test_edit_flow import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def quick_queue(settings):
    settings.PUSH_RETRY_DELAY = 0
    settings.PUSH_RETRY_DELAY_MAX = 0


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_a_queued_edit_that_lands_shows_as_a_message_and_a_badge(page, agent, sandbox, theme):
    page.context.add_init_script(f"window.localStorage.setItem('theme', '{theme}')")
    sign_in(page, "agent", "agent-password")
    page.goto(f"/consumers/{CONSUMER_REF}/edit/")
    sandbox.inject(
        Fault(method="POST", path=f"/v2/orderConsumers/{CONSUMER_REF}", status=503, times=None)
    )
    page.get_by_label("Last name").fill("Beirne")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("your edit is queued")).to_be_visible()

    sandbox.clear_faults()
    run_worker()
    page.goto("/")

    expect(page.get_by_test_id("notification")).to_contain_text(
        "Your queued edit of Liam Byrne reached CDP."
    )
    expect(page.get_by_test_id("notification-badge")).to_contain_text("1")
    assert accessibility_violations(page) == []

    page.get_by_test_id("notifications-link").click()
    expect(page.get_by_test_id("notifications")).to_contain_text("reached CDP")
    expect(page.get_by_test_id("notification")).to_have_count(0)  # shown once already
    assert accessibility_violations(page) == []
    page.get_by_role("button", name="Mark all read").click()
    expect(page.get_by_test_id("notification-badge")).to_have_count(0)
