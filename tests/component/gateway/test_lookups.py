"""The console's live lookups through a real gateway: ``get_workflow`` and ``list_steps``
``ExecutorRequest`` commands on Kafka, a DBOS executor model (``dbos_model``) on a real WebSocket,
the replies on the replies topic and what the lookups published on the workflow-events topic.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.server import Gateway
from runtime.clock import wall_ms
from streams.ids import AppName, WorkflowId
from streams.records import ExecutorRequest, RequestKind, WorkflowStatus, WorkflowSteps
from tests.component.gateway.dbos_model import DbosModelExecutor, catalogue
from tests.component.gateway.fakes import (
    CommandSender,
    EventLog,
    KeyBook,
    connected,
    executor_request,
    executor_url,
    replies_to,
)
from tests.eventually import eventually

APP = "orders"
EXECUTOR = "exec-1"
MakeGateway = Callable[..., Gateway]


def request_command(
    gateway: Gateway,
    workflow_id: str,
    kind: RequestKind = RequestKind.GET_WORKFLOW,
    target: str = EXECUTOR,
) -> ExecutorRequest:
    return executor_request(gateway, kind, workflow_id, app=APP, target=target)


# -- console requests ----------------------------------------------------------------------------


async def test_a_get_workflow_request_is_answered_once_on_the_replies_topic(
    make_gateway: MakeGateway,
    keys: KeyBook,
    events: EventLog,
    workflow_events: EventLog,
    replies: EventLog,
    commands: CommandSender,
) -> None:
    _, key = await keys.create(APP)
    base = wall_ms() - 30_000
    async with make_gateway() as gateway:
        model = DbosModelExecutor(executor_url(gateway, APP, key), EXECUTOR, catalogue(base))
        async with model:
            await connected(events, EXECUTOR)
            twice = request_command(gateway, "wf-2")
            later = request_command(gateway, "wf-5", RequestKind.LIST_STEPS)
            for command in (twice, twice, later):
                await commands.send(command)

            # Same target, same partition: once ``later`` is answered the duplicate was read.
            (steps_reply,) = await eventually(lambda: replies_to(replies, later), "later reply")
            (reply,) = replies_to(replies, twice)
            assert len(model.requests("get_workflow")) == 1
            assert reply.ok, reply.error
            assert (reply.app, reply.executor_id, reply.gateway) == (
                APP,
                EXECUTOR,
                gateway.config.gateway_id,
            )
            assert reply.steps is None
            assert reply.workflow is not None
            assert reply.workflow == WorkflowStatus(
                app=AppName(APP),
                workflow_id=WorkflowId("wf-2"),
                status="ERROR",
                observed_at_ms=reply.workflow.observed_at_ms,
                name="checkout",
                input='{"args": [2]}',
                error="card declined",
                has_input=True,
                has_output=True,
                created_at_ms=base,
                updated_at_ms=base + 200,
                completed_at_ms=base + 200,
                priority=0,
                application_version="v1",
                executor_id=EXECUTOR,
            )
            assert steps_reply.ok, steps_reply.error
            assert steps_reply.workflow is None
            assert steps_reply.steps is not None
            assert [s.function_name for s in steps_reply.steps] == ["pack", "ship", "notify"]

            # What the console learned is published too, so the store gets fresher.
            await eventually(
                lambda: workflow_events.of_type(WorkflowSteps), "the steps of wf-5 published"
            )
            assert workflow_events.of_type(WorkflowStatus) == [reply.workflow]


async def test_requests_about_unknown_workflows_and_absent_executors(
    make_gateway: MakeGateway,
    keys: KeyBook,
    events: EventLog,
    replies: EventLog,
    commands: CommandSender,
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway() as gateway:
        model = DbosModelExecutor(executor_url(gateway, APP, key), EXECUTOR, [])
        async with model:
            await connected(events, EXECUTOR)
            unknown = request_command(gateway, "wf-nobody")
            no_steps = request_command(gateway, "wf-nobody", RequestKind.LIST_STEPS)
            absent = request_command(gateway, "wf-1", target="exec-gone")
            for command in (unknown, no_steps, absent):
                await commands.send(command)

            (got,) = await eventually(lambda: replies_to(replies, unknown), "unknown answered")
            assert (got.ok, got.workflow, got.error) == (True, None, None)
            (steps,) = await eventually(lambda: replies_to(replies, no_steps), "steps answered")
            assert (steps.ok, steps.steps) == (True, None)
            (refused,) = await eventually(lambda: replies_to(replies, absent), "absent answered")
            assert (refused.ok, refused.error, refused.executor_id) == (
                False,
                "target not connected here",
                "exec-gone",
            )
