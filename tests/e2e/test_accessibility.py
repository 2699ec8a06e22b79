"""Every page passes axe-core with no serious or critical violation, in the light and dark themes.

The pages come from the URLconf, as in the permission matrix, so a new page is checked too.
"""

import pytest
from playwright.sync_api import expect

from tests.conftest import CONSUMER_REF
from tests.e2e.conftest import accessibility_violations
from tests.e2e.test_edit_flow import sign_in
from tests.system.test_permission_matrix import APP_RULES, URL_NAMES, rule, url_for, world  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Pages that are not HTML for people: probes, JSON and CSV.
NOT_HTML = {
    "healthz",
    "readyz",
    "audit:export",
    "consumers:bulk_progress",
    "consumers:bulk_failures",
    "consumers:guest_summary",
    "privacy:rectify_progress",
    "consumers:guest_search",
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
    page.get_by_role("button", name="Sign in", exact=True).click()
    found += check(page, "sign-in page with an error")

    sign_in(page, "administrator", "administrator-password")
    expect(page.locator("html")).to_have_attribute("data-bs-theme", theme)
    for name in HTML_PAGES:
        page.goto(url_for(name, world))
        found += check(page, name)

    page.goto("/find/?q=Byrne")
    found += check(page, "search results")
    page.goto("/find/?q=Fernández")
    expect(page.get_by_test_id("guests")).to_be_visible()
    found += check(page, "guests found in CDP")
    page.goto(f"/consumers/{CONSUMER_REF}/edit/")
    page.get_by_label("First name").fill("")
    page.get_by_label("Last name").fill("o'neill")
    page.get_by_role("button", name="Save").click()
    found += check(page, "edit form with errors and a suggestion")
    page.goto("/no-such-page/")
    found += check(page, "404 page")
    assert found == [], "\n".join(found)


# Every admin page an administrator opens, but the JavaScript translation catalogue.
ADMIN_PAGES = sorted(
    name
    for name in URL_NAMES
    if name.startswith("admin:") and name != "admin:jsi18n"
    and rule(name)[0] == "GET" and rule(name)[1]["administrator"] == 200
)  # fmt: skip


@pytest.mark.parametrize("scheme", ["light", "dark"])  # the admin follows the system's scheme
def test_every_admin_page_passes_axe_core(new_page, world, administrator, scheme):  # noqa: F811
    page = new_page()
    page.emulate_media(color_scheme=scheme)
    sign_in(page, "administrator", "administrator-password")
    found = []
    for name in ADMIN_PAGES:
        page.goto(url_for(name, world))
        found += check(page, name)

    assert found == [], "\n".join(found)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_pages_in_states_the_world_lacks_pass_axe_core(new_page, world, administrator, theme):  # noqa: F811
    """A resolved conflict read as history, a consumer CDP could not be asked about, the banner
    for updates CDP refuses, and the revert's refusal."""
    from django.utils import timezone

    from audit.services import RequestMeta
    from consumers import pushes
    from consumers.models import OrderConsumer, Push

    pushes.conflict_discard(push=world["conflict"], user=administrator, meta=RequestMeta())
    OrderConsumer.objects.filter(ref=CONSUMER_REF).update(
        fetch_failed_at=timezone.now(), fetch_error="CDP is unavailable (HTTP 503)."
    )
    Push.objects.filter(pk=world["queued"].pk).update(queued_at=timezone.now())
    pushes._note_queued()  # as when an edit is queued: the banner for refused updates shows
    page = new_page()
    page.context.add_init_script(f"window.localStorage.setItem('theme', '{theme}')")
    sign_in(page, "administrator", "administrator-password")
    found = []

    page.goto(url_for("consumers:conflict", world))
    expect(page.get_by_test_id("resolution")).to_be_visible()
    found += check(page, "resolved conflict")
    page.goto(url_for("consumers:detail", world))
    expect(page.get_by_test_id("not-checked")).to_be_visible()  # its badge: Pending, worse
    expect(page.get_by_test_id("cdp-updates-failing")).to_be_visible()
    found += check(page, "consumer not checked")
    page.goto(url_for("consumers:order", world))
    found += check(page, "order with a consumer not checked")
    pushes.consumer_revert(entry=world["entry"], user=administrator, meta=RequestMeta())
    page.goto(url_for("consumers:revert", world))
    expect(page.get_by_test_id("revert-refusal")).to_be_visible()
    found += check(page, "revert refused")
    assert found == [], "\n".join(found)
