"""Everything executor-supplied stays escaped in the dashboard, in the real browser.

A store is seeded with script payloads (``<script>``, ``<img onerror>``, ``"><svg onload>``,
``javascript:`` text) in every executor-supplied field the dashboard shows: workflow ids, names,
inputs, outputs, errors, statuses, queues, versions, executor ids, step names, outputs and
errors, child ids, executor host names, languages, DBOS versions, close reasons and metadata,
recovery reasons and targets, audit actors, targets and errors. Each page that shows them is
opened in Chromium (and its live region refreshed, which goes through ``innerHTML``): every
payload is there as literal text, no payload set its ``window.__xss`` flag or opened a dialog, no
element the payloads would create is in the page, and no script or handler was even refused by
the Content-Security-Policy (which would mean one reached the DOM).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.async_api import ConsoleMessage, Page, expect

from console.app import create_app
from recovery.state import AppState, ExecutorRecord, ExecutorState, Recovery, RecoveryState
from store.audit import record_audit
from store.database import Store, sqlite_url
from store.projection import project_app_state
from store.roles import Role
from store.workflow_projection import replace_steps, upsert_workflows
from streams.ids import AppName, CommandId, ConnId, ExecutorId, GatewayId, WorkflowId
from streams.records import (
    ActionOutcome,
    ExecutorInfo,
    OperatorAction,
    StepInfo,
    WorkflowStatus,
    WorkflowSteps,
)
from tests.browser.fixtures import SCREENSHOTS, serving
from tests.browser.signing import sign_in
from tests.console_access import TEST_ACCESS

APP = AppName("hostile")
T0 = 1_700_000_000_000


def payload(where: str) -> str:
    """A script payload whose every vector would set ``window.__xss`` to ``where``."""
    return (
        f"<script>window.__xss='{where}'</script>"
        f"<img src=x onerror=\"window.__xss='{where}'\">"
        f'"><svg onload="window.__xss=\'{where}\'">'
        f"'javascript:window.__xss='{where}'"
    )


def compact(where: str) -> str:
    """A payload for the texts a page shows cut (an audit actor, a one-line error headline)."""
    return f"<img src=x onerror=window.__xss='{where}'>\"><script>window.__xss=1</script>"


SHORT = "<svg onload=window.__xss=1>"
"""For the columns of 64 characters (a language, a DBOS version, a status)."""

WORKFLOW_ID = "wf-\"><svg onload=window.__xss='id'>javascript:alert(1)"
CHILD_ID = "child-<img src=x onerror=window.__xss='child'>"
EXECUTOR_ID = payload("executor")
QUEUE = payload("queue")
FIELDS = {
    "name": payload("name"),
    "class_name": payload("class"),
    "config_name": payload("config"),
    "authenticated_user": payload("user"),
    "assumed_role": payload("role"),
    "input": payload("input"),
    "output": payload("output"),
    "error": payload("error"),
    "queue_name": QUEUE,
    "queue_partition_key": payload("partition"),
    "deduplication_id": payload("dedup"),
    "application_version": payload("version"),
    "executor_id": EXECUTOR_ID,
    "schedule_name": payload("schedule"),
}
STEP_NAME, STEP_OUTPUT, STEP_ERROR = payload("step"), payload("step-out"), payload("step-err")
HOST, CLOSE_REASON = payload("host"), payload("close")
REASON, TARGET = payload("reason"), payload("target")
ACTOR, AUDIT_ERROR = compact("actor"), compact("audit")
ACTION_ID = "act-hostile"


def workflow(workflow_id: str, status: str, **fields: Any) -> WorkflowStatus:
    return WorkflowStatus(
        app=APP,
        workflow_id=WorkflowId(workflow_id),
        status=status,
        observed_at_ms=T0,
        created_at_ms=T0,
        updated_at_ms=T0 + 1,
        has_input=True,
        has_output=True,
        **fields,
    )


def executor(executor_id: str, state: ExecutorState, **changes: Any) -> ExecutorRecord:
    info = ExecutorInfo(
        executor_id=ExecutorId(executor_id),
        application_version=payload("executor-version"),
        hostname=HOST,
        language=SHORT,
        dbos_version=SHORT,
        metadata={"note": payload("metadata"), "link": "javascript:window.__xss='meta'"},
    )
    return ExecutorRecord(
        info=info,
        gateway=GatewayId(payload("gateway")),
        conn_id=ConnId("c1"),
        state=state,
        connected_at_ms=T0,
        last_seen_ms=T0 + 1_000,
        updated_ms=T0 + 1_000,
        **changes,
    )


async def seed(store: Store) -> None:
    dead = executor(
        "dead-" + EXECUTOR_ID,
        ExecutorState.DEAD,
        close_reason=CLOSE_REASON,
        close_code=1006,
        disconnected_at_ms=T0 + 500,
    )
    state = AppState(
        app=APP,
        executors={
            ExecutorId(EXECUTOR_ID): executor(EXECUTOR_ID, ExecutorState.CONNECTED),
            dead.info.executor_id: dead,
        },
        recoveries={
            dead.info.executor_id: Recovery(
                dead_executor_id=dead.info.executor_id,
                application_version=payload("recovery-version"),
                state=RecoveryState.IN_FLIGHT,
                declared_at_ms=T0 + 2_000,
                updated_ms=T0 + 2_000,
                attempt=1,
                target=ExecutorId(TARGET),
                command_id=CommandId("cmd"),
                reason=REASON,
            )
        },
    )
    statuses = [
        workflow(WORKFLOW_ID, "ERROR", **FIELDS),
        workflow(CHILD_ID, SHORT, parent_workflow_id=WORKFLOW_ID, queue_name=QUEUE),
        workflow(
            "wf-queued",
            "ENQUEUED",
            queue_name=QUEUE,
            name=payload("queued-name"),
            executor_id=EXECUTOR_ID,
        ),
    ]
    steps = WorkflowSteps(
        app=APP,
        workflow_id=WorkflowId(WORKFLOW_ID),
        steps=(
            StepInfo(
                function_id=0,
                function_name=STEP_NAME,
                output=STEP_OUTPUT,
                error=STEP_ERROR,
                child_workflow_id=CHILD_ID,
                started_at_ms=T0,
                completed_at_ms=T0 + 10,
            ),
        ),
        observed_at_ms=T0,
    )
    action = OperatorAction(
        action_id=ACTION_ID,
        app=APP,
        actor=ACTOR,
        action="workflow.cancel",
        target=WORKFLOW_ID,
        params={"note": payload("params")},
        outcome=ActionOutcome.FAILED,
        requested_at_ms=T0,
        finished_at_ms=T0 + 5,
        error=AUDIT_ERROR,
        result={"reason": payload("result")},
    )
    async with store.sessionmaker.begin() as session:
        await project_app_state(session, state)
        await upsert_workflows(session, statuses)
        await replace_steps(session, [steps])
        await record_audit(session, [action])


@pytest.fixture
async def console_url(tmp_path: Path, page: Page) -> AsyncIterator[str]:
    """The console's base URL; ``page`` is signed in as an operator (it opens a confirmation)."""
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        await seed(store)
        async with serving(create_app(store, refresh_interval_s=0.3, access=TEST_ACCESS)) as url:
            await sign_in(page, url, store, Role.OPERATOR)
            yield url


class Watch:
    """What the page did that a payload would have made it do."""

    def __init__(self, page: Page) -> None:
        self.refused: list[str] = []
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.refused.append(message.text)


INJECTED = """() => ({
    flag: window.__xss === undefined ? null : String(window.__xss),
    inlineScripts: document.querySelectorAll("script:not([src])").length,
    foreignScripts: [...document.scripts].filter(
        s => new URL(s.src, location.href).origin !== location.origin).length,
    handlers: document.querySelectorAll(
        "[onerror],[onload],[onclick],[onmouseover],[onfocus],[onanimationstart]").length,
    images: document.querySelectorAll("img").length,
    scriptLinks: [...document.querySelectorAll("a[href],form[action]")].filter(
        a => /^\\s*javascript:/i.test(a.getAttribute("href") || a.getAttribute("action") || "")
    ).length,
})"""
CLEAN = {
    "flag": None,
    "inlineScripts": 0,
    "foreignScripts": 0,
    "handlers": 0,
    "images": 0,
    "scriptLinks": 0,
}


async def check(
    page: Page, watch: Watch, url: str, shown: list[str], name: str, status: int = 200
) -> None:
    """Open ``url``: every text of ``shown`` is on it literally, and nothing ran or was made."""
    response = await page.goto(url)
    assert response is not None
    assert response.status == status, (url, response.status)
    text = await page.locator("body").text_content() or ""
    missing = [s for s in shown if s not in text]
    assert missing == [], (url, missing)
    assert await page.evaluate(INJECTED) == CLEAN, url
    assert (watch.refused, watch.errors) == ([], []), url
    await page.screenshot(path=str(SCREENSHOTS / f"escaping-{name}.png"), full_page=True)


async def test_script_payloads_are_shown_as_text_on_every_page(
    console_url: str, page: Page
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    watch = Watch(page)
    base = f"{console_url}/apps/{APP}"
    detail = f"{base}/workflows/{quote(WORKFLOW_ID, safe='')}"
    headline_error = FIELDS["error"]  # one line, under the list's headline limit
    assert len(headline_error) < 160

    await check(page, watch, f"{console_url}/", [APP], "overview")
    await check(
        page,
        watch,
        base,
        [EXECUTOR_ID, HOST, SHORT, CLOSE_REASON, payload("executor-version"), payload("gateway")],
        "executors",
    )
    # Its live region, replaced through innerHTML, stays as inert.
    await expect(page.locator("#refresh-status")).to_contain_text("Updated")
    assert await page.evaluate(INJECTED) == CLEAN

    await check(
        page,
        watch,
        f"{base}/workflows?done={ACTION_ID}",
        [
            WORKFLOW_ID,
            CHILD_ID,
            SHORT,
            FIELDS["name"],
            FIELDS["class_name"],
            QUEUE,
            FIELDS["application_version"],
            EXECUTOR_ID,
            headline_error,
            AUDIT_ERROR,  # the flash of the failed action
        ],
        "workflows",
    )
    await check(
        page,
        watch,
        detail,
        [
            WORKFLOW_ID,
            CHILD_ID,
            *FIELDS.values(),
            STEP_NAME,
            STEP_OUTPUT,
            STEP_ERROR,
        ],
        "workflow",
    )
    # A link the payload's id makes leads back to the same workflow, not to a script.
    await page.get_by_test_id("children").get_by_role("link").click()
    await expect(page.get_by_test_id("workflow-id")).to_have_text(CHILD_ID)
    assert await page.evaluate(INJECTED) == CLEAN
    await page.get_by_test_id("parent").get_by_role("link").click()
    await expect(page.get_by_test_id("workflow-id")).to_have_text(WORKFLOW_ID)

    await check(page, watch, f"{detail}/confirm?action=resume", [WORKFLOW_ID], "confirm")
    await check(
        page, watch, f"{base}/queues", [QUEUE, payload("queued-name"), EXECUTOR_ID], "queues"
    )
    await page.get_by_test_id("queue-row").get_by_role("link").click()
    await expect(page.get_by_test_id("queued-row")).to_have_count(1)
    assert await page.evaluate(INJECTED) == CLEAN
    await check(
        page,
        watch,
        f"{base}/recoveries",
        ["dead-" + EXECUTOR_ID, payload("recovery-version"), TARGET, REASON],
        "recoveries",
    )
    await check(
        page, watch, f"{console_url}/audit?app={APP}", [ACTOR, WORKFLOW_ID, AUDIT_ERROR], "audit"
    )
    # The audit entry's parameters and result are shown as JSON text too.
    await page.get_by_text("Parameters and result").click()
    assert await page.evaluate(INJECTED) == CLEAN

    # An error page names what was asked for, as text.
    unknown = payload("unknown")
    await check(
        page,
        watch,
        f"{base}/workflows/{quote(unknown, safe='')}",
        [f"no workflow {unknown[:128]!r} in app {APP!r}"],
        "not-found",
        status=404,
    )
