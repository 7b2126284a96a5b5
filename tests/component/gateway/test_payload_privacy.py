"""Payload privacy through a real gateway: capture polls and live lookups of a private app ask the
executor for no inputs, outputs or errors, and publish and answer none even when the executor sends
them anyway (``LoadsEverything``, as an older DBOS that ignores ``load_input``/``load_output``);
another app on the same gateway keeps its payloads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from gateway.server import Gateway
from runtime.clock import wall_ms
from streams.ids import AppName
from streams.records import (
    CaptureCursor,
    ExecutorReply,
    RequestKind,
    WorkflowStatus,
    WorkflowSteps,
)
from tests.component.gateway.dbos_model import DbosModelExecutor, StoredWorkflow, catalogue
from tests.component.gateway.fakes import (
    CommandSender,
    EventLog,
    KeyBook,
    connected,
    executor_request,
    executor_url,
    replies_to,
)
from tests.component.gateway.test_polling import at_least, poll_command, run_poll
from tests.eventually import eventually

MakeGateway = Callable[..., Gateway]
PRIVATE, PUBLIC = AppName("vault"), AppName("orders")
SECRET_EXECUTOR, PUBLIC_EXECUTOR = "exec-vault", "exec-orders"


class LoadsEverything(DbosModelExecutor):
    """An executor that sends inputs, outputs and errors whatever it is asked (``get_workflow``
    and ``list_steps`` of the model already do; ``list_workflows`` is made to)."""

    async def _answer(self, message: dict[str, Any]) -> None:
        if message["type"] == "list_workflows":
            body = {**message["body"], "load_input": True, "load_output": True}
            message = {**message, "body": body}
        await super()._answer(message)


def with_secrets(base: int) -> list[StoredWorkflow]:
    """The model's catalogue, every workflow with an input, and an error or output."""
    rows = catalogue(base)
    for row in rows:
        row.input = row.input or '{"card": "4111"}'
        if row.completed_at is not None:
            row.output = row.output or '"receipt 4111"'
    return rows


def carries_payload(record: WorkflowStatus | WorkflowSteps | ExecutorReply) -> bool:
    match record:
        case WorkflowStatus():
            return bool(record.input or record.output or record.error)
        case WorkflowSteps():
            return any(s.output or s.error for s in record.steps)
        case ExecutorReply():
            return (record.workflow is not None and carries_payload(record.workflow)) or any(
                s.output or s.error for s in record.steps or ()
            )


def of_app(records: list[Any], app: str) -> list[Any]:
    return [r for r in records if r.app == app]


def asked_for_payloads(model: DbosModelExecutor) -> list[dict[str, Any]]:
    """The model's requests that asked for an input, an output or an error."""
    found = [
        m
        for m in model.requests("list_workflows")
        if m["body"].get("load_input") is not False or m["body"].get("load_output") is not False
    ]
    found += [
        m
        for m in model.requests("get_workflow")
        if m.get("load_input") is not False or m.get("load_output") is not False
    ]
    found += [m for m in model.requests("list_steps") if m.get("load_output") is not False]
    return found


async def test_a_private_apps_polls_ask_for_and_publish_no_payload(
    make_gateway: MakeGateway,
    keys: KeyBook,
    events: EventLog,
    workflow_events: EventLog,
    commands: CommandSender,
) -> None:
    _, secret_key = await keys.create(PRIVATE)
    _, public_key = await keys.create(PUBLIC)
    base = wall_ms() - 30_000
    async with make_gateway() as gateway:
        vault = LoadsEverything(
            executor_url(gateway, PRIVATE, secret_key), SECRET_EXECUTOR, with_secrets(base)
        )
        orders = LoadsEverything(
            executor_url(gateway, PUBLIC, public_key), PUBLIC_EXECUTOR, with_secrets(base)
        )
        async with vault, orders:
            await connected(events, SECRET_EXECUTOR)
            await connected(events, PUBLIC_EXECUTOR)

            private = replace(
                poll_command(SECRET_EXECUTOR, gateway, CaptureCursor()), payloads_private=True
            )
            private = replace(private, app=PRIVATE)
            public = replace(poll_command(PUBLIC_EXECUTOR, gateway, CaptureCursor()), app=PUBLIC)
            first = await run_poll(commands, events, private)
            assert first.ok, first.error
            assert (await run_poll(commands, events, public)).ok

            # A second private poll: completions since the cursor, a recheck of the creations,
            # and the steps of a workflow that finished in between.
            finished = vault.find("wf-3")
            finished.status, finished.completed_at = "ERROR", wall_ms()
            finished.updated_at, finished.error = finished.completed_at, "ValueError: card 4111"
            again = replace(
                poll_command(SECRET_EXECUTOR, gateway, first.cursor, recheck_created=True),
                app=PRIVATE,
                payloads_private=True,
            )
            assert (await run_poll(commands, events, again)).ok

            def published(app: str, listings: int, failed: int) -> list[Any] | None:
                records = of_app(
                    workflow_events.of_type(WorkflowStatus)
                    + workflow_events.of_type(WorkflowSteps),
                    app,
                )
                steps = [r for r in records if isinstance(r, WorkflowSteps)]
                errors = [
                    r for r in records if isinstance(r, WorkflowStatus) and r.status == "ERROR"
                ]
                return records if len(steps) >= listings and len(errors) >= failed else None

            # Steps of wf-1, wf-2 and wf-5, then of wf-3; wf-2 failed, then wf-3.
            secret = await eventually(lambda: published(PRIVATE, 4, 2), "the private records")
            shown = await eventually(lambda: published(PUBLIC, 3, 1), "the public records")

    # The private app: asked for nothing, and nothing published though the executor sent it all.
    assert vault.requests("list_workflows")
    assert vault.requests("list_steps")
    assert asked_for_payloads(vault) == []
    assert [r for r in secret if carries_payload(r)] == []
    statuses = [r for r in secret if isinstance(r, WorkflowStatus)]
    assert {s.workflow_id for s in statuses} == {"wf-1", "wf-2", "wf-3", "wf-4", "wf-5"}
    assert not any(s.has_input or s.has_output for s in statuses)
    assert "wf-3" in {s.workflow_id for s in statuses if s.status == "ERROR"}
    steps = [r for r in secret if isinstance(r, WorkflowSteps)]
    assert all(step.function_name for listing in steps for step in listing.steps)
    # The other app on the same gateway keeps its payloads.
    assert asked_for_payloads(orders)
    assert any(carries_payload(r) for r in shown)
    assert any(isinstance(r, WorkflowSteps) and carries_payload(r) for r in shown)


async def test_a_private_apps_lookups_answer_and_publish_no_payload(
    make_gateway: MakeGateway,
    keys: KeyBook,
    events: EventLog,
    workflow_events: EventLog,
    replies: EventLog,
    commands: CommandSender,
) -> None:
    _, key = await keys.create(PRIVATE)
    base = wall_ms() - 30_000
    async with make_gateway() as gateway:
        model = LoadsEverything(
            executor_url(gateway, PRIVATE, key), SECRET_EXECUTOR, with_secrets(base)
        )
        async with model:
            await connected(events, SECRET_EXECUTOR)

            def ask(kind: RequestKind, private: bool) -> Any:
                request = executor_request(
                    gateway, kind, "wf-2", app=PRIVATE, target=SECRET_EXECUTOR
                )
                return replace(request, payloads_private=private)

            hidden_get = ask(RequestKind.GET_WORKFLOW, True)
            hidden_steps = ask(RequestKind.LIST_STEPS, True)
            for request in (hidden_get, hidden_steps):
                await commands.send(request)
            (got,) = await eventually(lambda: replies_to(replies, hidden_get), "get answered")
            (listed,) = await eventually(lambda: replies_to(replies, hidden_steps), "steps")
            published = await eventually(
                lambda: at_least(
                    2,
                    workflow_events.of_type(WorkflowStatus)
                    + workflow_events.of_type(WorkflowSteps),
                ),
                "what the lookups learned, published",
            )

            # The same questions without privacy (the app switched it off): payloads again.
            shown_get = ask(RequestKind.GET_WORKFLOW, False)
            await commands.send(shown_get)
            (shown,) = await eventually(lambda: replies_to(replies, shown_get), "shown answered")

    assert got.ok, got.error
    assert got.workflow is not None
    assert (got.workflow.workflow_id, got.workflow.status) == ("wf-2", "ERROR")
    assert not carries_payload(got)
    assert listed.ok, listed.error
    assert listed.steps is not None
    assert [s.function_name for s in listed.steps] == ["reserve"]
    assert not carries_payload(listed)
    assert [r for r in published if carries_payload(r)] == []
    # Only the last question asked for payloads.
    assert asked_for_payloads(model) == model.requests("get_workflow")[1:]
    assert shown.workflow is not None
    assert shown.workflow.error == "card declined"
    assert shown.workflow.input
