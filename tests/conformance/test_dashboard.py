"""The dashboard over real executors, in Chromium: real DBOS workflows as an operator sees them,
and that executor-supplied text never runs as script."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser.fixtures import SCREENSHOTS
from tests.conformance.scenario import ExecutorPool
from tests.eventually import assert_eventually_async

pytestmark = pytest.mark.conformance

HOSTILE = "card declined <script>alert('x')</script>"


async def test_operator_filters_opens_a_failed_workflow_and_reads_its_steps(
    pool: ExecutorPool, page: Page
) -> None:
    cluster, app = pool.cluster, pool.app
    (a,) = pool.start_connected(1)
    a.start_workflow("quick", "wf-fine", x=2)
    a.start_workflow("failing", "wf-failed", message=HOSTILE)
    a.start_workflow("multi_step", "wf-steps", n=3, step_seconds=0.1)

    def captured() -> bool:
        listed = cluster.api(f"/api/v1/apps/{app}/workflows")["workflows"]
        return {w["workflow_id"]: w["status"] for w in listed} == {
            "wf-fine": "SUCCESS",
            "wf-failed": "ERROR",
            "wf-steps": "SUCCESS",
        }

    await assert_eventually_async(captured, timeout_s=30, message="three workflows captured")
    base = f"http://127.0.0.1:{cluster.console_port}"

    await page.goto(f"{base}/")
    await page.get_by_role("link", name=app).first.click()
    await expect(page.get_by_test_id("executor-row")).to_have_count(1)
    await page.get_by_test_id("tab-workflows").click()
    await expect(page.get_by_test_id("workflow-row")).to_have_count(3)

    await page.get_by_label("Status", exact=True).select_option("ERROR")
    await page.get_by_test_id("apply-filters").click()
    rows = page.get_by_test_id("workflow-row")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("wf-failed")
    await expect(rows.first).to_contain_text("<script>")  # shown as text, not run
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "real-executor-errors.png"), full_page=True)

    await rows.first.get_by_role("link", name="wf-failed").click()
    await expect(page.get_by_role("heading", name="wf-failed")).to_be_visible()
    await expect(page.get_by_test_id("workflow-error")).to_contain_text(HOSTILE)
    steps = page.get_by_test_id("step")
    await expect(steps).to_have_count(1)
    await expect(steps.first).to_contain_text("prepare")
    await page.screenshot(path=str(SCREENSHOTS / "real-executor-failed-detail.png"), full_page=True)

    await page.goto(f"{base}/apps/{app}/workflows/wf-steps")
    await expect(page.get_by_test_id("step")).to_have_count(3)
    await expect(page.get_by_test_id("step").first).to_contain_text("marked_step")
