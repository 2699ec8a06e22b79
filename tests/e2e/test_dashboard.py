"""A supervisor opens the dashboard: charts drawn, the numbers one click away, a date range."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.dashboard.test_services import save
from tests.e2e.test_edit_flow import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_supervisor_reads_the_charts_and_their_numbers_and_narrows_the_dates(
    page, agent, supervisor
):
    save(agent, "succeeded", "last_name")
    save(agent, "succeeded", "first_name")
    save(agent, "failed", "last_name")
    save(agent, "succeeded", "title", when=timezone.now() - timedelta(days=5))
    sign_in(page, "supervisor", "supervisor-password")

    page.get_by_role("link", name="Dashboard").click()

    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    for chart in ("Saves per day", "Most-changed fields", "Saves per agent"):
        canvas = page.get_by_role("img", name=chart)
        expect(canvas).to_be_visible()
        # Chart.js drew on it: the canvas is sized and not blank.
        assert page.evaluate(
            """(canvas) => canvas.getContext('2d')
                .getImageData(0, 0, canvas.width, canvas.height).data.some((v) => v !== 0)""",
            canvas.element_handle(),
        )
    per_agent = page.get_by_test_id("per-agent")
    expect(per_agent).to_be_hidden()
    page.get_by_role("group").filter(has=per_agent).get_by_text("The numbers").click()
    # Agent, saves, succeeded, failed, conflict, queued.
    expect(per_agent.locator("tbody td")).to_have_text(["agent", "4", "3", "1", "0", "0"])

    today = timezone.now().date().isoformat()
    page.get_by_label("From (UTC)").fill(today)
    page.get_by_label("To (UTC)").fill(today)
    page.get_by_role("button", name="Show").click()

    fields = page.get_by_test_id("fields")
    page.get_by_role("group").filter(has=fields).get_by_text("The numbers").click()
    expect(fields.locator("tbody td")).to_have_text(["Last name", "2", "First name", "1"])
    expect(page.get_by_text("Failed / conflict")).to_be_visible()


def test_the_charts_follow_a_switch_to_the_dark_theme(page, agent, supervisor):
    save(agent, "succeeded")
    sign_in(page, "supervisor", "supervisor-password")
    page.goto("/dashboard/")
    light_text = page.evaluate("Chart.defaults.color")

    page.get_by_test_id("current-user").click()
    page.get_by_role("button", name="Dark theme").click()

    dark_text = page.evaluate("Chart.defaults.color")
    body_text = page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--bs-body-color').trim()"
    )
    assert dark_text == body_text != light_text
