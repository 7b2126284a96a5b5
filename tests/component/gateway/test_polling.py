"""Capture polls through a real gateway: ``PollWorkflows`` commands on Kafka, a DBOS executor model
(``dbos_model``) on a real WebSocket, and what lands on the workflow-events and executor-events
topics.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from capture.cursor import FIRST_POLL_LOOKBACK_MS
from gateway.server import Gateway
from runtime.clock import wall_ms
from streams.bounds import MAX_TEXT_CHARS
from streams.ids import AppName, CommandId, ExecutorId, GatewayId, WorkflowId
from streams.records import (
    CaptureCursor,
    PollResult,
    PollWorkflows,
    StepInfo,
    WorkflowStatus,
    WorkflowSteps,
)
from tests.component.gateway.dbos_model import (
    DbosModelExecutor,
    StoredWorkflow,
    catalogue,
    step,
)
from tests.component.gateway.fakes import (
    CommandSender,
    EventLog,
    KeyBook,
    connected,
    executor_url,
)
from tests.eventually import eventually

T = TypeVar("T")

APP = "orders"
EXECUTOR = "exec-1"
MakeGateway = Callable[..., Gateway]


# -- commands and what they produce --------------------------------------------------------------


def poll_command(
    target: str,
    gateway: Gateway | str,
    cursor: CaptureCursor,
    *,
    page_size: int = 2,
    max_pages: int = 5,
    check_active: bool = True,
    steps_budget: int = 10,
    recheck_created: bool = False,
) -> PollWorkflows:
    target_gateway = gateway.config.gateway_id if isinstance(gateway, Gateway) else gateway
    return PollWorkflows(
        command_id=CommandId(f"poll-{uuid.uuid4().hex[:12]}"),
        app=AppName(APP),
        target=ExecutorId(target),
        target_gateway=GatewayId(target_gateway),
        cursor=cursor,
        page_size=page_size,
        max_pages=max_pages,
        check_active=check_active,
        steps_budget=steps_budget,
        issued_at_ms=wall_ms(),
        timeout_ms=10_000,
        recheck_created=recheck_created,
    )


def result_of(events: EventLog, command: PollWorkflows) -> PollResult | None:
    found = [r for r in events.of_type(PollResult) if r.command_id == command.command_id]
    assert len(found) <= 1, found
    return found[0] if found else None


async def run_poll(
    commands: CommandSender, events: EventLog, command: PollWorkflows, message: str = "poll result"
) -> PollResult:
    await commands.send(command)
    return await eventually(lambda: result_of(events, command), message)


def at_least(count: int, items: list[T]) -> list[T] | None:
    return items if len(items) >= count else None


def statuses(log: EventLog, since: int = 0) -> list[WorkflowStatus]:
    return log.of_type(WorkflowStatus)[since:]


# -- polls ---------------------------------------------------------------------------------------


async def test_a_poll_publishes_every_workflow_then_only_what_changed(
    make_gateway: MakeGateway,
    keys: KeyBook,
    events: EventLog,
    workflow_events: EventLog,
    commands: CommandSender,
) -> None:
    _, key = await keys.create(APP)
    base = wall_ms() - 30_000
    async with make_gateway() as gateway:
        model = DbosModelExecutor(executor_url(gateway, APP, key), EXECUTOR, catalogue(base))
        async with model:
            await connected(events, EXECUTOR)

            # 1. The first poll walks the whole history, page by page (2 per page).
            before_ms = wall_ms()
            first = await run_poll(
                commands, events, poll_command(EXECUTOR, gateway, CaptureCursor())
            )
            after_ms = wall_ms()
            assert first.ok, first.error
            assert (first.gateway, first.executor_id, first.app) == (
                gateway.config.gateway_id,
                EXECUTOR,
                APP,
            )
            # created: 3 pages of 2 (wf-1 wf-2 | wf-3 wf-4 | wf-5, short); completions: none (they
            # start being followed now, no query); active: 1; steps: 3, one for each workflow this
            # poll newly saw finished (wf-1, wf-2, wf-5, found by the creation query).
            assert first.requests == model.cost() == 3 + 0 + 1 + 3
            assert len(model.requests("list_workflows")) == 4
            assert (first.cursor.created_from_ms, first.cursor.created_skip) == (base + 20, 2)
            lookback = FIRST_POLL_LOOKBACK_MS
            assert before_ms - lookback <= first.cursor.completed_from_ms <= after_ms - lookback
            assert first.cursor.completed_span_ms == 0
            assert (first.workflows_seen, first.more, first.active_seen) == (7, False, True)

            published = await eventually(
                lambda: at_least(5, statuses(workflow_events)), "a status for every workflow"
            )
            assert sorted(s.workflow_id for s in published) == [
                "wf-1",
                "wf-2",
                "wf-3",
                "wf-4",
                "wf-5",
            ]
            by_id: dict[str, WorkflowStatus] = {s.workflow_id: s for s in published}
            assert by_id["wf-1"] == WorkflowStatus(
                app=AppName(APP),
                workflow_id=WorkflowId("wf-1"),
                status="SUCCESS",
                observed_at_ms=by_id["wf-1"].observed_at_ms,
                name="checkout",
                input='{"args": [1]}',
                output='"paid"',
                has_input=True,
                has_output=True,
                created_at_ms=base,
                updated_at_ms=base + 100,
                completed_at_ms=base + 100,
                priority=0,
                application_version="v1",
                executor_id=EXECUTOR,
            )
            assert (by_id["wf-2"].status, by_id["wf-2"].error) == ("ERROR", "card declined")
            assert (by_id["wf-4"].status, by_id["wf-4"].queue_name) == ("ENQUEUED", "orders-q")

            # Finished workflows get their steps whichever query found them; failed ones first.
            assert [r["workflow_id"] for r in model.requests("list_steps")] == [
                "wf-2",
                "wf-1",
                "wf-5",
            ]
            steps = await eventually(
                lambda: at_least(3, workflow_events.of_type(WorkflowSteps)),
                "the steps of the three finished workflows",
            )
            # Keyed by workflow, so spread over partitions: read back in no particular order.
            steps = sorted(steps, key=lambda s: s.workflow_id)
            assert [(s.workflow_id, s.app) for s in steps] == [
                ("wf-1", APP),
                ("wf-2", APP),
                ("wf-5", APP),
            ]
            assert steps[0].steps == (
                StepInfo(
                    function_id=0,
                    function_name="reserve",
                    output="{'sku': 1}",
                    started_at_ms=1_000,
                    completed_at_ms=2_000,
                ),
                StepInfo(
                    function_id=1,
                    function_name="charge",
                    output="42",
                    started_at_ms=1_001,
                    completed_at_ms=2_001,
                ),
            )
            assert [s.function_name for s in steps[2].steps] == ["pack", "ship", "notify"]

            # 2. wf-3 succeeds and wf-4 is cancelled; the next poll publishes those two alone, and
            # the steps of as many of them as the budget allows, the cancelled one first.
            finished = model.find("wf-3")
            finished.status, finished.output = "SUCCESS", '"done"'
            finished.updated_at = finished.completed_at = wall_ms() - 1_000
            finished.steps = [step(0, "work")]
            cancelled = model.find("wf-4")
            cancelled.status = "CANCELLED"
            cancelled.updated_at = cancelled.completed_at = finished.completed_at - 500
            cancelled.steps = [step(0, "reserve")]
            cost_before = model.cost()
            second = await run_poll(
                commands, events, poll_command(EXECUTOR, gateway, first.cursor, steps_budget=1)
            )
            assert second.ok, second.error
            # created: 1 (nothing past the cursor); completions: one open window from the cursor
            # minus the overlap holding all five, in pages of 2 (2 full + 1 short); active: 1 (it
            # finds none); steps: 1, the budget (wf-4, cancelled, before wf-3; wf-1, wf-2 and wf-5
            # are listed again unchanged, so they are neither published nor asked about).
            assert second.requests == model.cost() - cost_before == 1 + 3 + 1 + 1
            assert second.cursor == CaptureCursor(
                created_from_ms=base + 20,
                created_skip=2,
                completed_from_ms=finished.completed_at,
                completed_span_ms=0,
            )
            assert (second.workflows_seen, second.more, second.active_seen) == (5, False, False)
            assert [r["workflow_id"] for r in model.requests("list_steps")] == [
                "wf-2",
                "wf-1",
                "wf-5",
                "wf-4",
            ]

            changed = await eventually(
                lambda: at_least(2, statuses(workflow_events, 5)), "the statuses that changed"
            )
            done, stopped = sorted(changed, key=lambda s: s.workflow_id)
            assert (done.workflow_id, done.status, done.output) == ("wf-3", "SUCCESS", '"done"')
            assert (done.has_input, done.has_output) == (False, True)
            assert (stopped.workflow_id, stopped.status) == ("wf-4", "CANCELLED")
            assert stopped.completed_at_ms == cancelled.completed_at
            (new_steps,) = await eventually(
                lambda: workflow_events.of_type(WorkflowSteps)[3:], "the steps of wf-4"
            )
            assert (new_steps.workflow_id, [s.function_name for s in new_steps.steps]) == (
                "wf-4",
                ["reserve"],
            )
            assert len(statuses(workflow_events)) == 7
            assert len(workflow_events.of_type(WorkflowSteps)) == 4


async def test_a_page_limit_asks_for_a_catch_up_and_the_cursor_resumes_without_gaps(
    make_gateway: MakeGateway,
    keys: KeyBook,
    events: EventLog,
    workflow_events: EventLog,
    commands: CommandSender,
) -> None:
    _, key = await keys.create(APP)
    base = wall_ms() - 30_000
    rows = [
        StoredWorkflow(
            workflow_id=f"wf-{i:02}", status="PENDING", created_at=base + i // 4, updated_at=base
        )
        for i in range(11)  # three creation milliseconds, four workflows in each
    ]
    async with make_gateway() as gateway:
        model = DbosModelExecutor(executor_url(gateway, APP, key), EXECUTOR, rows)
        async with model:
            await connected(events, EXECUTOR)
            cursor = CaptureCursor()
            results = []
            for _ in range(6):
                command = poll_command(
                    EXECUTOR, gateway, cursor, page_size=3, max_pages=1, check_active=False
                )
                result = await run_poll(commands, events, command)
                assert result.ok, result.error
                results.append(result)
                cursor = result.cursor
                if not result.more:
                    break
            assert [r.more for r in results] == [True, True, True, False]
            assert [(r.cursor.created_from_ms, r.cursor.created_skip) for r in results] == [
                (base, 3),
                (base + 1, 2),
                (base + 2, 1),
                (base + 2, 3),
            ]
            await eventually(lambda: len(statuses(workflow_events)) >= 11, "every workflow")
            assert sorted(s.workflow_id for s in statuses(workflow_events)) == [
                w.workflow_id for w in rows
            ]


async def test_a_poll_that_finds_nothing_new_publishes_nothing(
    make_gateway: MakeGateway,
    keys: KeyBook,
    events: EventLog,
    workflow_events: EventLog,
    commands: CommandSender,
) -> None:
    _, key = await keys.create(APP)
    base = wall_ms() - 30_000
    async with make_gateway() as gateway:
        model = DbosModelExecutor(executor_url(gateway, APP, key), EXECUTOR, catalogue(base))
        async with model:
            await connected(events, EXECUTOR)
            # The history: every workflow, and the steps of the three finished ones.
            first = await run_poll(
                commands, events, poll_command(EXECUTOR, gateway, CaptureCursor())
            )
            assert first.ok, first.error
            await eventually(
                lambda: len(workflow_events.of_type(WorkflowSteps)) == 3,
                "steps of the three finished workflows",
            )
            known = (len(statuses(workflow_events)), len(workflow_events.of_type(WorkflowSteps)))
            assert known == (5, 3)
            asked = len(model.requests("list_steps"))

            # Two idle polls: the first lists the three completions from the lookback, the second
            # lists them again because of the overlap. Neither is news.
            cursor = first.cursor
            for _ in range(2):
                idle = await run_poll(commands, events, poll_command(EXECUTOR, gateway, cursor))
                assert idle.ok, idle.error
                # created: 1 (nothing new); completions: 3 rows in pages of 2; active: 1. No steps.
                assert idle.requests == 1 + 2 + 1
                assert (idle.workflows_seen, idle.more) == (0 + 3 + 2, False)
                assert len(model.requests("list_steps")) == asked
                cursor = idle.cursor
            assert cursor.completed_from_ms == base + 300  # wf-5, the newest completion

            # Then wf-3 completes: the next poll publishes it alone, with its steps.
            finished = model.find("wf-3")
            finished.status, finished.output = "SUCCESS", '"done"'
            finished.updated_at = finished.completed_at = wall_ms() - 1_000
            finished.steps = [step(0, "work")]
            news = await run_poll(commands, events, poll_command(EXECUTOR, gateway, cursor))
            assert news.ok, news.error
            await eventually(
                lambda: len(workflow_events.of_type(WorkflowSteps)) > known[1], "wf-3's steps"
            )
            await eventually(lambda: len(statuses(workflow_events)) > known[0], "wf-3's status")
            assert [r["workflow_id"] for r in model.requests("list_steps")[asked:]] == ["wf-3"]
            assert [s.workflow_id for s in statuses(workflow_events)[known[0] :]] == ["wf-3"]
            assert [s.workflow_id for s in workflow_events.of_type(WorkflowSteps)[known[1] :]] == [
                "wf-3"
            ]


async def test_a_creation_committed_behind_the_cursor_is_found_by_the_recheck(
    make_gateway: MakeGateway,
    keys: KeyBook,
    events: EventLog,
    workflow_events: EventLog,
    commands: CommandSender,
) -> None:
    """Concurrent inserts: a workflow created *before* rows the creations query already passed
    commits late. The creations query cannot see it; the next recheck does, once, with its
    input, and publishes nothing it had published before."""
    _, key = await keys.create(APP)
    base = wall_ms() - 30_000
    async with make_gateway() as gateway:
        model = DbosModelExecutor(executor_url(gateway, APP, key), EXECUTOR, catalogue(base))
        async with model:
            await connected(events, EXECUTOR)
            first = await run_poll(
                commands, events, poll_command(EXECUTOR, gateway, CaptureCursor())
            )
            assert first.ok, first.error
            await eventually(lambda: len(statuses(workflow_events)) == 5, "the five workflows")
            cursor = first.cursor
            assert cursor.created_from_ms == base + 20  # the newest creation listed

            # wf-late was created at base + 15 but its insert commits only now.
            model.workflows.append(
                StoredWorkflow(
                    workflow_id="wf-late",
                    status="ENQUEUED",
                    created_at=base + 15,
                    updated_at=base + 15,
                    input='{"args": ["late"]}',
                    queue_name="q",
                )
            )
            missed = await run_poll(
                commands, events, poll_command(EXECUTOR, gateway, cursor, check_active=False)
            )
            assert missed.ok, missed.error
            assert "wf-late" not in {s.workflow_id for s in statuses(workflow_events)}

            found = await run_poll(
                commands,
                events,
                poll_command(
                    EXECUTOR, gateway, missed.cursor, check_active=False, recheck_created=True
                ),
            )
            assert found.ok, found.error
            late = await eventually(
                lambda: next(
                    (s for s in statuses(workflow_events) if s.workflow_id == "wf-late"), None
                ),
                "wf-late published",
            )
            assert (late.status, late.input, late.has_input) == (
                "ENQUEUED",
                '{"args": ["late"]}',
                True,
            )
            # The recheck re-listed the known five without publishing them again.
            assert [s.workflow_id for s in statuses(workflow_events)[5:]] == ["wf-late"]
            ids_asked = [r["body"].get("workflow_uuids") for r in model.requests("list_workflows")]
            assert ["wf-late"] in ids_asked, "only the unknown one is listed again with its input"


@pytest.mark.parametrize("page_size", [1, 2])
async def test_completions_beyond_the_page_cap_are_not_lost(
    make_gateway: MakeGateway,
    keys: KeyBook,
    events: EventLog,
    workflow_events: EventLog,
    commands: CommandSender,
    page_size: int,
) -> None:
    _, key = await keys.create(APP)
    base = wall_ms() - 50_000
    rows = [
        StoredWorkflow(
            workflow_id=f"wf-{i}", status="PENDING", created_at=base + i, updated_at=base
        )
        for i in range(6)
    ]
    async with make_gateway() as gateway:
        model = DbosModelExecutor(executor_url(gateway, APP, key), EXECUTOR, rows)
        async with model:
            await connected(events, EXECUTOR)
            # max_pages 1: a creation query reads one page a poll, a completion window one page.
            cursor = CaptureCursor()
            for _ in range(8):
                command = poll_command(EXECUTOR, gateway, cursor, page_size=page_size, max_pages=1)
                result = await run_poll(commands, events, command)
                assert result.ok, result.error
                cursor = result.cursor
                if not result.more:
                    break
            assert not result.more, "the history is read within 8 polls"
            await eventually(lambda: len(statuses(workflow_events)) >= 6, "six pending")

            # All complete, the first created last: wf-0 at now - 1 s, wf-5 at now - 26 s. In
            # creation order the first page holds the newest completion: only windows bounded
            # by ``completed_before`` let the cursor move past the older ones.
            ended = wall_ms() - 1_000
            for i, row in enumerate(rows):
                row.status = "SUCCESS"
                row.updated_at = row.completed_at = ended - i * 5_000
            asked = len(model.requests("list_workflows"))
            for _ in range(8):
                command = poll_command(EXECUTOR, gateway, cursor, page_size=page_size, max_pages=1)
                result = await run_poll(commands, events, command)
                assert result.ok, result.error
                cursor = result.cursor
                if not result.more:
                    break
            assert not result.more, "the completions are caught up within 8 polls"
            # Caught up: on from the newest completion, in one open window again.
            assert (cursor.completed_from_ms, cursor.completed_span_ms) == (ended, 0)
            bodies = [r["body"] for r in model.requests("list_workflows")[asked:]]
            assert any("completed_before" in body for body in bodies), "windows were used"

            def latest() -> dict[str, str] | None:
                found: dict[str, str] = {s.workflow_id: s.status for s in statuses(workflow_events)}
                done = {row.workflow_id: "SUCCESS" for row in rows}
                return found if found == done else None

            await eventually(latest, "every completion published")


async def test_an_executor_error_fails_the_poll_with_the_error_bounded(
    make_gateway: MakeGateway,
    keys: KeyBook,
    events: EventLog,
    workflow_events: EventLog,
    commands: CommandSender,
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway() as gateway:
        model = DbosModelExecutor(
            executor_url(gateway, APP, key), EXECUTOR, catalogue(wall_ms() - 30_000)
        )
        model.list_error = "Exception encountered when listing workflows: Traceback\n" + (
            "x" * (MAX_TEXT_CHARS * 3)
        )
        async with model:
            await connected(events, EXECUTOR)
            cursor = CaptureCursor(created_from_ms=5, created_skip=1, completed_from_ms=9)
            command = poll_command(EXECUTOR, gateway, cursor)
            result = await run_poll(commands, events, command)
            assert not result.ok
            assert result.cursor == cursor
            assert result.more is False
            assert result.error is not None
            assert result.error.startswith(
                "list_workflows failed on the executor: Exception encountered when listing"
            )
            assert len(result.error) <= MAX_TEXT_CHARS
            assert len(model.requests("list_workflows")) == 1  # no further query after a failure
            assert statuses(workflow_events) == []


class MalformedNumbers(DbosModelExecutor):
    """Sends ``CreatedAt`` as ``"--5"``: not a number, which a tolerant reader reads as absent."""

    def _list(self, message: dict[str, Any]) -> Any:
        response = super()._list(message)
        for output in response.output:
            output.CreatedAt = "--5"
        return response


async def test_a_malformed_number_from_an_executor_does_not_take_the_gateway_down(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog, commands: CommandSender
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway() as gateway:
        model = MalformedNumbers(
            executor_url(gateway, APP, key), EXECUTOR, catalogue(wall_ms() - 30_000)
        )
        async with model:
            await connected(events, EXECUTOR)
            command = poll_command(EXECUTOR, gateway, CaptureCursor())
            await commands.send(command)
            await eventually(lambda: result_of(events, command), "a poll result", timeout_s=5)
            assert not gateway.failed.is_set()


async def test_a_poll_for_an_executor_not_on_this_pod(
    make_gateway: MakeGateway, events: EventLog, commands: CommandSender
) -> None:
    async with make_gateway() as gateway:
        cursor = CaptureCursor(created_from_ms=7, created_skip=2, completed_from_ms=11)
        # Same target (same partition, read in order): one naming another pod, one naming this.
        elsewhere = poll_command("exec-gone", "gw-other", cursor)
        here = poll_command("exec-gone", gateway, cursor)
        await commands.send(elsewhere)
        result = await run_poll(commands, events, here, "the not-here result")
        assert result == PollResult(
            command_id=here.command_id,
            app=AppName(APP),
            gateway=gateway.config.gateway_id,
            executor_id=ExecutorId("exec-gone"),
            ok=False,
            cursor=cursor,
            workflows_seen=0,
            requests=0,
            more=False,
            active_seen=False,
            ts_ms=result.ts_ms,
            error="target not connected here",
        )
        assert result_of(events, elsewhere) is None  # another pod's business: no answer


async def test_active_workflows_beyond_a_page_are_refreshed_in_turn(
    make_gateway: MakeGateway,
    keys: KeyBook,
    events: EventLog,
    workflow_events: EventLog,
    commands: CommandSender,
) -> None:
    """Five enqueued workflows, pages of two: a dequeue of the last one is seen within three
    polls (pages 0-1, 2-3, 4), though it neither creates nor completes a workflow."""
    _, key = await keys.create(APP)
    base = wall_ms() - 10_000
    rows = [
        StoredWorkflow(
            workflow_id=f"wf-{i}", status="ENQUEUED", created_at=base + i, updated_at=base
        )
        for i in range(5)
    ]
    async with make_gateway() as gateway:
        model = DbosModelExecutor(executor_url(gateway, APP, key), EXECUTOR, rows)
        async with model:
            await connected(events, EXECUTOR)
            cursor = CaptureCursor()
            for _ in range(4):  # catch up on creations (pages of two)
                cursor = (
                    await run_poll(commands, events, poll_command(EXECUTOR, gateway, cursor))
                ).cursor
            rows[4].status = "PENDING"
            rows[4].updated_at = base + 5_000
            seen = len(statuses(workflow_events))
            offsets = []
            for _ in range(3):
                offsets.append(cursor.active_offset)
                cursor = (
                    await run_poll(commands, events, poll_command(EXECUTOR, gateway, cursor))
                ).cursor
            await eventually(
                lambda: any(
                    s.workflow_id == "wf-4" and s.status == "PENDING"
                    for s in statuses(workflow_events, seen)
                ),
                "the dequeue of wf-4 is published",
            )
            # The refresh walked the pages instead of re-reading the first one.
            assert {0, 2, 4} >= set(offsets)
            assert len(set(offsets)) >= 2, offsets
