"""Real headless Chromium for the browser tests: Debian's, or Playwright's own if installed."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, sync_playwright
from playwright.sync_api import Error as PlaywrightError

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make around it
# are still synchronous and safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        executable = CHROMIUM if Path(CHROMIUM).exists() else None
        try:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except PlaywrightError as error:
            pytest.fail(
                f"Could not start Chromium ({error}). Install Debian's chromium "
                "(apt-get install chromium) or set CHROMIUM_PATH to a Chromium binary.",
                pytrace=False,
            )
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_server):
    """Open pages in separate browser contexts, as different people on different machines.

    Any Content Security Policy violation the browser reports fails the test.
    """
    contexts, violations = [], []

    def open_page():
        context = browser.new_context(base_url=live_server.url)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)

        def note_csp_violation(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text:
                violations.append(message.text)

        page.on("console", note_csp_violation)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert violations == [], "the page broke its Content Security Policy"


@pytest.fixture
def page(new_page):
    return new_page()


# axe-core 4.14.1, vendored from the npm package (tests/e2e/vendor, MPL-2.0): test-only, never
# served. It is evaluated through the DevTools protocol, which the page's CSP does not govern.
AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js").read_text()
BLOCKING_IMPACTS = ("serious", "critical")


def accessibility_violations(page) -> list[str]:
    """Run axe-core on the page as it is now; return its serious and critical violations."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SOURCE)
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} — "
        + "; ".join(
            f"{node['target'][0]}: {node.get('failureSummary', '')}"
            for node in violation["nodes"][:3]
        )
        for violation in result["violations"]
        if violation["impact"] in BLOCKING_IMPACTS
    ]
