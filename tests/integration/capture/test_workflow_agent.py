"""The workflow table agent in a real Faust worker on the embedded broker: captured statuses in on
the workflow events topic; the news, and only the news, out to the store's projection; the marks of
active workflows in the ``workflows`` table.

Faust's ``agent.test_context()`` cannot drive this agent faithfully: its table writes go to the
app's real producer, and its flush to the store is a timer (which only runs in a started app).
"""

from __future__ import annotations

import pytest

from broker.faust_app import WorkerApp
from capture.workflow_agent import WorkflowAgent
from capture.workflow_table import WorkflowMark, decode_mark
from streams.codec import workflow_key
from streams.ids import AppName, WorkflowId
from streams.records import StepInfo, WorkflowDeleted, WorkflowStatus, WorkflowSteps
from tests.component.gateway.fakes import CommandSender
from tests.eventually import eventually
from tests.integration.faust_worker import RecordingWorkflowProjection, started

pytestmark = pytest.mark.integration

APP = AppName("orders")
T0 = 1_700_000_000_000


def status(workflow_id: str, state: str, updated_at_ms: int) -> WorkflowStatus:
    return WorkflowStatus(
        app=APP,
        workflow_id=WorkflowId(workflow_id),
        status=state,
        observed_at_ms=updated_at_ms + 5,
        updated_at_ms=updated_at_ms,
        executor_id="exec-1",
    )


def mark(worker: WorkerApp, workflow_id: str) -> WorkflowMark | None:
    return decode_mark(worker.workflows.get(workflow_key(APP, workflow_id)))


def wire(worker: WorkerApp) -> RecordingWorkflowProjection:
    projection = RecordingWorkflowProjection()
    WorkflowAgent(worker, projection, flush_interval_s=0.05)
    return projection


async def test_a_status_reaches_the_projection_once_and_a_stale_repeat_does_not(
    worker: WorkerApp, workflow_events: CommandSender
) -> None:
    projection = wire(worker)
    async with started(worker):
        pending = status("wf-1", "PENDING", T0)
        await workflow_events.send(pending)
        await eventually(lambda: projection.statuses == [pending], "the status projected")
        assert mark(worker, "wf-1") == WorkflowMark(
            status="PENDING",
            updated_at_ms=T0,
            executor_id="exec-1",
            queue_name=None,
            has_input=False,
            has_output=False,
        )

        await workflow_events.send(pending)  # listed again by the next poll, unchanged
        await workflow_events.send(status("wf-1", "ENQUEUED", T0 - 10))  # older than the mark
        done = status("wf-1", "SUCCESS", T0 + 10)
        await workflow_events.send(done)  # same key and partition: read after the repeats
        await eventually(lambda: done in projection.statuses, "the completion projected")
        assert projection.statuses == [pending, done]
        assert mark(worker, "wf-1") is None  # finished: the store keeps it, the table does not


async def test_news_waits_for_a_store_that_is_down_steps_and_deletions_included(
    worker: WorkerApp, workflow_events: CommandSender
) -> None:
    projection = wire(worker)
    projection.down = True
    async with started(worker):
        pending = status("wf-2", "PENDING", T0)
        steps = WorkflowSteps(
            app=APP,
            workflow_id=WorkflowId("wf-2"),
            steps=(StepInfo(function_id=0, function_name="reserve"),),
            observed_at_ms=T0 + 1,
        )
        deleted = WorkflowDeleted(
            app=APP, workflow_id=WorkflowId("wf-2"), with_children=False, deleted_at_ms=T0 + 2
        )
        for record in (pending, steps, deleted):
            await workflow_events.send(record)
        await eventually(lambda: deleted in projection.refused, "a flush refused by the store")
        assert mark(worker, "wf-2") is None

        projection.down = False
        await eventually(lambda: projection.deletions == [deleted], "the deletion projected")
        assert projection.statuses == [pending]
        assert projection.steps == [steps]
