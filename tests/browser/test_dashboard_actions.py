"""Operator actions in headless Chromium: cancel a workflow through its confirmation, by mouse and
by keyboard alone; act on ticked rows in bulk and watch the job finish; see a refused action's
error. The console runs for real (uvicorn on a free loopback port) over a seeded SQLite store, with
a fake executor behind its ``CommandChannel`` (``tests.component.console.dashboard_client``); the
page is signed in as an operator through the sign-in page, and the real forms post their CSRF
tokens.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from console.app import create_app
from store.database import Store, sqlite_url
from store.roles import Role
from streams.records import RequestKind
from tests.browser.fixtures import SCREENSHOTS, serving
from tests.browser.signing import sign_in
from tests.component.console.dashboard_client import FakeExecutor
from tests.component.console.seed import seed
from tests.console_access import TEST_ACCESS

REFRESH_INTERVAL_S = 0.5


@pytest.fixture
async def served(tmp_path: Path, page: Page) -> AsyncIterator[tuple[str, FakeExecutor]]:
    """The console's base URL, served by uvicorn until the test ends, and its fake executor;
    ``page`` is signed in as an operator."""
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        await seed(store)
        executor = FakeExecutor(store=store)
        app = create_app(
            store, channel=executor, refresh_interval_s=REFRESH_INTERVAL_S, access=TEST_ACCESS
        )
        async with serving(app) as url:
            await sign_in(page, url, store, Role.OPERATOR)
            yield url, executor


async def test_cancel_a_workflow_through_its_confirmation(
    served: tuple[str, FakeExecutor], page: Page
) -> None:
    base, executor = served
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.goto(f"{base}/apps/orders/workflows/wf-003")
    await expect(page.get_by_test_id("status").first).to_have_text("PENDING")

    await page.get_by_test_id("action-cancel").click()
    await expect(page.get_by_role("heading", name="Cancel workflow wf-003?")).to_be_visible()
    await page.screenshot(path=str(SCREENSHOTS / "action-confirm.png"), full_page=True)
    await page.get_by_test_id("confirm-button").click()

    await expect(page).to_have_url(
        re.compile(r".*/apps/orders/workflows/wf-003\?done=[0-9a-f]{32}$")
    )
    flash = page.get_by_test_id("flash")
    await expect(flash).to_have_attribute("data-outcome", "succeeded")
    await expect(flash).to_contain_text("Cancel of wf-003: succeeded.")
    await expect(page.get_by_test_id("status").first).to_have_text("CANCELLED")
    await page.screenshot(path=str(SCREENSHOTS / "action-done.png"), full_page=True)
    assert len(executor.acts(RequestKind.CANCEL)) == 1

    # A double click on Confirm submits the same key twice: the workflow is cancelled once.
    await page.goto(f"{base}/apps/orders/workflows/wf-005/confirm?action=cancel")
    await page.get_by_test_id("confirm-button").dblclick()
    await expect(page.get_by_test_id("flash")).to_have_attribute("data-outcome", "succeeded")
    assert [r.workflow_id for r in executor.acts(RequestKind.CANCEL)] == ["wf-003", "wf-005"]


async def test_cancel_with_the_keyboard_alone(served: tuple[str, FakeExecutor], page: Page) -> None:
    base, executor = served
    await page.goto(f"{base}/apps/orders/workflows/wf-004")
    await _tab_to(page, "action-cancel")
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("confirm")).to_be_visible()
    await _tab_to(page, "opt-cancel_children", attribute="id")
    await page.keyboard.press("Space")
    await _tab_to(page, "confirm-button")
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("flash")).to_have_attribute("data-outcome", "succeeded")
    [request] = executor.acts(RequestKind.CANCEL)
    assert request.params["cancel_children"] is True


async def test_ticked_rows_are_cancelled_in_bulk(
    served: tuple[str, FakeExecutor], page: Page
) -> None:
    base, executor = served
    await page.goto(f"{base}/apps/orders/workflows?queue=shipping")
    rows = page.get_by_test_id("workflow-row")
    await expect(rows).to_have_count(3)
    selected = page.get_by_test_id("bulk-selected-cancel")
    await expect(selected).to_be_disabled()  # nothing ticked yet

    select_all = page.get_by_role("checkbox", name="Select every workflow on this page")
    await select_all.check()
    await expect(page.locator("#selected-count")).to_have_text("(3)")
    await select_all.uncheck()
    await expect(selected).to_be_disabled()

    await page.get_by_role("checkbox", name="Select wf-003").check()
    await page.get_by_role("checkbox", name="Select wf-004").check()
    await expect(page.locator("#selected-count")).to_have_text("(2)")
    await page.screenshot(path=str(SCREENSHOTS / "bulk-ticked.png"), full_page=True)
    # A live refresh keeps what is ticked.
    await page.get_by_role("heading", name="Workflows").click()
    await expect(page.locator("#refresh-status")).to_contain_text("Updated")
    await expect(page.get_by_role("checkbox", name="Select wf-004")).to_be_checked()

    await selected.click()
    await expect(page.get_by_test_id("bulk-matched")).to_have_text("2")
    await page.screenshot(path=str(SCREENSHOTS / "bulk-confirm.png"), full_page=True)
    await page.get_by_test_id("confirm-button").click()
    await expect(page.get_by_test_id("job-state")).to_have_attribute("data-state", "succeeded")
    await expect(page.get_by_test_id("job-progress-text")).to_contain_text("2 of 2 done")
    await expect(page.get_by_test_id("job-item")).to_have_count(2)
    await page.screenshot(path=str(SCREENSHOTS / "bulk-job.png"), full_page=True)
    [request] = executor.acts(RequestKind.CANCEL)
    assert sorted(request.params["workflow_ids"]) == ["wf-003", "wf-004"]

    await page.get_by_test_id("tab-bulk").click()
    await expect(page.get_by_test_id("bulk-job-row")).to_have_count(1)
    await page.get_by_test_id("tab-audit").click()
    await expect(page.get_by_test_id("audit-row").first).to_contain_text("bulk.cancel")
    await page.screenshot(path=str(SCREENSHOTS / "audit.png"), full_page=True)


async def test_a_refused_action_shows_why(served: tuple[str, FakeExecutor], page: Page) -> None:
    base, executor = served
    executor.error = "card declined <script>alert('x')</script>"
    await page.goto(f"{base}/apps/orders/workflows/wf-002")
    await page.get_by_test_id("action-resume").click()
    await page.get_by_test_id("confirm-button").click()
    message = page.get_by_test_id("action-error-message")
    await expect(message).to_have_text("card declined <script>alert('x')</script>")
    await expect(page.get_by_test_id("confirm-button")).to_be_visible()
    await page.screenshot(path=str(SCREENSHOTS / "action-refused.png"), full_page=True)


async def _tab_to(page: Page, value: str, *, attribute: str = "data-testid") -> None:
    """Press Tab until the focused element has ``attribute == value`` (at most 60 presses)."""
    for _ in range(60):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(f"document.activeElement.getAttribute('{attribute}')")
        if focused == value:
            return
    raise AssertionError(f"{value} is not reachable with the Tab key")
