"""Every page passes axe-core with no serious or critical violation, in the light and dark themes.

The pages come from the URLconf, as in the permission matrix, so a new page is checked too.
"""

import pytest
from playwright.sync_api import expect

from tests.conftest import CONSUMER_REF
from tests.e2e.conftest import accessibility_violations
from tests.e2e.test_edit_flow import sign_in
from tests.test_permission_matrix import APP_RULES, url_for, world  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Pages that are not HTML for people: probes, JSON and CSV.
NOT_HTML = {
    "healthz",
    "readyz",
    "audit:export",
    "consumers:bulk_progress",
    "consumers:bulk_failures",
    "consumers:guest_summary",
}
HTML_PAGES = sorted(
    name
    for name, (method, statuses) in APP_RULES.items()
    if method == "GET" and statuses["administrator"] == 200 and name not in NOT_HTML
)


def check(page, what: str) -> list[str]:
    return [f"{what}: {violation}" for violation in accessibility_violations(page)]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_page_passes_axe_core(new_page, world, administrator, theme):  # noqa: F811
    page = new_page()
    page.context.add_init_script(f"window.localStorage.setItem('theme', '{theme}')")
    found = []

    page.goto("/accounts/login/")
    found += check(page, "sign-in page")
    page.get_by_label("Username").fill("nobody")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    found += check(page, "sign-in page with an error")

    sign_in(page, "administrator", "administrator-password")
    expect(page.locator("html")).to_have_attribute("data-bs-theme", theme)
    for name in HTML_PAGES:
        page.goto(url_for(name, world))
        found += check(page, name)

    page.goto("/find/?q=Byrne")
    found += check(page, "search results")
    page.goto(f"/consumers/{CONSUMER_REF}/edit/")
    page.get_by_label("First name").fill("")
    page.get_by_label("Last name").fill("o'neill")
    page.get_by_role("button", name="Save").click()
    found += check(page, "edit form with errors and a suggestion")
    page.goto("/no-such-page/")
    found += check(page, "404 page")
    page.goto("/admin/")
    found += check(page, "administration index")

    assert found == [], "\n".join(found)
