"""Operator actions in the dashboard over real executors, in Chromium: cancel a running DBOS
workflow through its confirmation page and watch it become CANCELLED; read a live workflow's
events and streams on its page."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser.fixtures import SCREENSHOTS
from tests.conformance.scenario import ExecutorPool
from tests.console_access import TESTER_ACTOR
from tests.dbos_app.harness import read_workflow
from tests.eventually import assert_eventually_async

pytestmark = pytest.mark.conformance

RELOADS = 30
"""Reloads of the detail page while waiting for a status (each waits ``RELOAD_WAIT_MS``)."""
RELOAD_WAIT_MS = 1_000


async def _reload_until_status(page: Page, status: str) -> None:
    """Reload the page until its workflow shows ``status`` (the store catches up on its own)."""
    badge = page.get_by_test_id("status").first
    for _ in range(RELOADS):
        if await badge.text_content() == status:
            return
        await page.wait_for_timeout(RELOAD_WAIT_MS)
        await page.reload()
    await expect(badge).to_have_text(status)


async def test_operator_cancels_a_running_workflow_from_its_page(
    pool: ExecutorPool, page: Page
) -> None:
    cluster, app = pool.cluster, pool.app
    (executor,) = pool.start_connected(1)
    pool.run(executor, "wf-long", n=60, step_s=1.0)
    base = cluster.console_url

    await page.goto(f"{base}/apps/{app}/workflows/wf-long")
    await _reload_until_status(page, "PENDING")
    await page.get_by_test_id("action-cancel").click()
    await expect(page.get_by_role("heading", name="Cancel workflow wf-long?")).to_be_visible()
    await page.get_by_test_id("confirm-button").click()

    flash = page.get_by_test_id("flash")
    await expect(flash).to_have_attribute("data-outcome", "succeeded")
    await expect(flash).to_contain_text("Cancel of wf-long: succeeded.")
    await _reload_until_status(page, "CANCELLED")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "real-executor-cancelled.png"), full_page=True)

    row = read_workflow(pool.system_db, "wf-long")
    assert row is not None
    assert row.status == "CANCELLED"

    def audited() -> bool:
        entries = cluster.api(f"/api/v1/audit?app={app}&action=workflow.cancel")["entries"]
        return [(e["target"], e["actor"], e["outcome"]) for e in entries] == [
            ("wf-long", TESTER_ACTOR, "succeeded")
        ]

    await assert_eventually_async(audited, timeout_s=10, message="the cancel audited")
    await page.get_by_test_id("workflow-audit").click()
    await expect(page.get_by_test_id("audit-row")).to_have_count(1)


async def test_detail_page_shows_a_live_workflows_events_and_streams(
    pool: ExecutorPool, page: Page
) -> None:
    cluster, app = pool.cluster, pool.app
    (executor,) = pool.start_connected(1)
    executor.start_workflow("chatty", "wf-chatty", topic="go", timeout_s=60)

    def captured() -> bool:
        listed = cluster.api(f"/api/v1/apps/{app}/workflows")["workflows"]
        return [w["workflow_id"] for w in listed] == ["wf-chatty"]

    await assert_eventually_async(captured, timeout_s=30, message="wf-chatty captured")
    await page.goto(f"{cluster.console_url}/apps/{app}/workflows/wf-chatty")
    events = page.get_by_test_id("event-row")
    await expect(events).to_have_count(1, timeout=15_000)
    await expect(events.first).to_contain_text("stage")
    await expect(events.first).to_contain_text("waiting")
    await expect(page.get_by_test_id("stream")).to_contain_text("started")
    await expect(page.get_by_test_id("communication-unavailable")).to_have_count(0)
