"""The dashboard in headless Chromium, clicking what an operator clicks.

The console runs for real (uvicorn on a free loopback port, in this test's event loop) over a
seeded SQLite store, and the page is signed in as a viewer through the sign-in page; Playwright
drives the system's Chromium (``/usr/bin/chromium``; Playwright's own browser download is never
used). Screenshots go to ``test-output/browser/`` under the repo.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from console.app import create_app
from store.database import Store, sqlite_url
from store.roles import Role
from store.workflow_projection import upsert_workflows
from streams.ids import WorkflowId
from tests.browser.fixtures import SCREENSHOTS, serving
from tests.browser.signing import sign_in
from tests.component.console.seed import T0, WORKFLOWS, XSS, seed
from tests.console_access import TEST_ACCESS

REFRESH_INTERVAL_S = 0.5


@pytest.fixture
async def console_url(tmp_path: Path, page: Page) -> AsyncIterator[tuple[str, Store]]:
    """The console's base URL, served by uvicorn until the test ends, and its store; ``page`` is
    signed in as a viewer."""
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        await seed(store)
        app = create_app(store, refresh_interval_s=REFRESH_INTERVAL_S, access=TEST_ACCESS)
        async with serving(app) as url:
            await sign_in(page, url, store, Role.VIEWER)
            yield url, store


async def test_filter_open_and_read_a_workflow(console_url: tuple[str, Store], page: Page) -> None:
    base, store = console_url
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    await page.goto(base + "/")
    await expect(page.get_by_test_id("app-row")).to_have_count(2)
    await page.locator('[data-app="orders"] th a').click()
    await expect(page.get_by_test_id("executor-row")).to_have_count(2)
    await page.get_by_test_id("tab-workflows").click()
    await expect(page.get_by_role("heading", name="Workflows")).to_be_visible()
    await expect(page.get_by_test_id("workflow-row")).to_have_count(38)

    await page.get_by_label("Status", exact=True).select_option("ERROR")
    await page.get_by_test_id("apply-filters").click()
    await expect(page).to_have_url(f"{base}/apps/orders/workflows?status=ERROR")
    rows = page.get_by_test_id("workflow-row")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-status", "ERROR")
    await expect(page.get_by_test_id("status-tab-error")).to_have_attribute("aria-current", "page")

    # Live refresh: a workflow that fails now shows up without reloading the page.
    late = replace(WORKFLOWS[1], workflow_id=WorkflowId("wf-late"), created_at_ms=T0 + 90_000)
    async with store.sessionmaker.begin() as session:
        await upsert_workflows(session, [late])
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_have_attribute("data-workflow-id", "wf-late")
    for status in await rows.evaluate_all("rows => rows.map(r => r.dataset.status)"):
        assert status == "ERROR"
    await page.screenshot(path=str(SCREENSHOTS / "workflows-error.png"), full_page=True)

    await page.get_by_role("link", name="wf-002", exact=True).click()
    await expect(page.get_by_test_id("workflow-id")).to_have_text("wf-002")
    await expect(page.get_by_test_id("stale-banner")).to_contain_text("Stale as of")
    await expect(page.get_by_test_id("workflow-error")).to_contain_text(f"bad cart {XSS}")
    await expect(page.get_by_test_id("workflow-input")).to_contain_text(XSS)
    steps = page.get_by_test_id("steps").get_by_test_id("step")
    await expect(steps).to_have_count(1)
    await expect(steps.first).to_contain_text("validate")
    await expect(page.locator("script:not([src])")).to_have_count(0)
    await page.screenshot(path=str(SCREENSHOTS / "workflow-error-detail.png"), full_page=True)


async def test_steps_timeline_links_child_workflows(
    console_url: tuple[str, Store], page: Page
) -> None:
    base, _ = console_url
    await page.goto(f"{base}/apps/orders/workflows/wf-001")
    steps = page.get_by_test_id("step")
    await expect(steps).to_have_count(3)
    await expect(steps.nth(0)).to_contain_text("reserve_stock")
    await expect(steps.nth(1)).to_contain_text("700 ms")
    await page.get_by_test_id("step").nth(2).get_by_text("Output").click()
    await expect(page.get_by_test_id("step-output").last).to_be_visible()
    await page.screenshot(path=str(SCREENSHOTS / "workflow-steps.png"), full_page=True)
    await steps.nth(1).get_by_role("link", name="wf-006").click()
    await expect(page.get_by_test_id("workflow-id")).to_have_text("wf-006")
    await expect(page.get_by_test_id("parent")).to_contain_text("wf-001")


async def test_keyboard_reaches_the_status_filter(
    console_url: tuple[str, Store], page: Page
) -> None:
    base, _ = console_url
    await page.goto(f"{base}/apps/orders/workflows")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    await page.keyboard.press("Enter")  # skip the header and the tabs
    await _tab_to(page, "status-filter", presses=5)
    await expect(page.get_by_test_id("status-filter")).to_be_focused()
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused control has no visible focus indicator"
    await page.keyboard.press("End")  # the last status, by keyboard alone
    await expect(page.get_by_test_id("status-filter")).to_have_value(
        "MAX_RECOVERY_ATTEMPTS_EXCEEDED"
    )
    await _tab_to(page, "apply-filters", presses=15)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(
        f"{base}/apps/orders/workflows?status=MAX_RECOVERY_ATTEMPTS_EXCEEDED"
    )
    await expect(page.get_by_test_id("no-workflows")).to_be_visible()


async def test_refresh_pauses_by_button(console_url: tuple[str, Store], page: Page) -> None:
    base, store = console_url
    await page.goto(f"{base}/apps/orders/queues")
    rows = page.get_by_test_id("queued-row")
    await expect(rows).to_have_count(3)
    toggle = page.locator("#refresh-toggle")
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-pressed", "true")
    queued = replace(WORKFLOWS[3], workflow_id=WorkflowId("wf-queued-late"))
    async with store.sessionmaker.begin() as session:
        await upsert_workflows(session, [queued])
    await page.wait_for_timeout(REFRESH_INTERVAL_S * 3 * 1000)
    await expect(rows).to_have_count(3)  # paused: nothing swapped
    await toggle.click()
    await expect(rows).to_have_count(4)


async def _tab_to(page: Page, testid: str, *, presses: int) -> None:
    """Press Tab until the element with ``testid`` has the focus, at most ``presses`` times."""
    for _ in range(presses):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.dataset.testid") == testid:
            return
    await expect(page.get_by_test_id(testid)).to_be_focused()
