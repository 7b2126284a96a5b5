"""Management requests through a real gateway: ``ExecutorRequest`` records on Kafka, a DBOS model
executor on a real WebSocket acting on its in-memory workflows, and the ``ExecutorReply`` on the
replies topic (ok with a result, or not ok with its ``ReplyFailure``).

``ManagedExecutor`` reads each request with DBOS's own parser (``p.CancelRequest.from_json``...)
and acts with the semantics of ``dbos/_sys_db.py`` (dbos 2.31.1): cancel leaves finished workflows
alone, resume enqueues, fork makes a new enqueued workflow under the requested id, delete removes.
Its replies are built with DBOS's own dataclasses, errors as ``conductor.py`` reports them (a
traceback in ``error_message``); a type it does not know is answered "Unknown message type", and
in metadata-only mode a data request is refused, both as ``conductor.py`` does (2.31.1 and 3.2.0).
"""

from __future__ import annotations

import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from dbos._conductor import protocol as p

from gateway.server import Gateway
from streams.bounds import MAX_TEXT_CHARS
from streams.records import ExecutorReply, ExecutorRequest, RequestKind
from streams.records import ReplyFailure as Failure
from tests.component.gateway.fakes import (
    CommandSender,
    EventLog,
    FakeExecutor,
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


# -- a DBOS executor model -------------------------------------------------------------------------


@dataclass
class Row:
    """One row of the model's ``workflow_status`` table."""

    workflow_id: str
    status: str
    queue_name: str | None = None
    forked_from: str | None = None
    children: list[str] = field(default_factory=list)
    events: dict[str, object] = field(default_factory=dict)


KNOWN_TYPES = frozenset(m.value for m in p.MessageType)
"""What dbos 2.31.1's ``conductor.py`` has an arm for; anything else: "Unknown message type"."""
DATA_MESSAGE_TYPES = frozenset(
    {
        "get_workflow_events",
        "get_workflow_notifications",
        "get_workflow_streams",
        "export_workflow",
        "import_workflow",
    }
)


class ManagedExecutor(FakeExecutor):
    """``FakeExecutor`` plus DBOS's management verbs over an in-memory table."""

    def __init__(self, url: str, executor_id: str, rows: list[Row], **info: Any) -> None:
        super().__init__(url, executor_id, **info)
        self.rows = {row.workflow_id: row for row in rows}
        self.metadata_only = False
        """Refuse the data requests (``DATA_MESSAGE_TYPES`` of dbos 3.2.0's ``conductor.py``)."""
        self.fail_with: str | None = None
        """When set, every management verb fails with this ``error_message``."""
        self.disconnect_on: str | None = None
        """A verb that makes the executor drop its session instead of answering."""
        self.silent_on: str | None = None
        """A verb the executor never answers."""

    async def _answer(self, message: dict[str, Any]) -> None:
        verbs: dict[str, Callable[[str], Any]] = {
            "cancel": self._cancel,
            "resume": self._resume,
            "fork_workflow": self._fork,
            "delete": self._delete,
            "get_workflow_events": self._events,
        }
        verb = verbs.get(message["type"])
        if self.metadata_only and message["type"] in DATA_MESSAGE_TYPES:
            refusal = f"{message['type']} is not allowed in conductor metadata-only mode"
            await self._send({**message, "error_message": refusal})
        elif message["type"] not in KNOWN_TYPES:
            unknown = p.BaseResponse(
                type=message["type"],
                request_id=message["request_id"],
                error_message="Unknown message type",
            )
            await self.ws.send(unknown.to_json())
        elif verb is None:
            await super()._answer(message)
        elif message["type"] == self.disconnect_on:
            await self.ws.close(1011, "crashed mid-request")
        elif message["type"] != self.silent_on:
            await self.ws.send(verb(orjson.dumps(message).decode()).to_json())

    def _attempt(self, action: Callable[[], None], what: str) -> str | None:
        """Run ``action`` the way ``conductor.py`` does: an exception becomes a traceback."""
        try:
            if self.fail_with is not None:
                return self.fail_with
            action()
        except KeyError:  # the model's only failure: an unknown workflow
            return f"Exception encountered when {what}: {traceback.format_exc()}"
        return None

    def _row(self, workflow_id: str) -> Row:
        row = self.rows.get(workflow_id)
        if row is None:
            raise KeyError(f"workflow {workflow_id} does not exist")
        return row

    def _cancel(self, text: str) -> Any:
        request = p.CancelRequest.from_json(text)
        ids = request.workflow_ids or [request.workflow_id]

        def cancel() -> None:
            frontier = list(ids)
            while frontier:
                rows = [self.rows[i] for i in frontier if i in self.rows]
                for row in rows:
                    if row.status not in ("SUCCESS", "ERROR"):
                        row.status, row.queue_name = "CANCELLED", None
                frontier = [c for r in rows for c in r.children] if request.cancel_children else []

        error = self._attempt(cancel, f"cancelling workflow(s) {ids}")
        return p.CancelResponse(
            type=p.MessageType.CANCEL,
            request_id=request.request_id,
            success=error is None,
            error_message=error,
        )

    def _resume(self, text: str) -> Any:
        request = p.ResumeRequest.from_json(text)
        ids = request.workflow_ids or [request.workflow_id]

        def resume() -> None:
            for row in (self.rows[i] for i in ids if i in self.rows):
                if row.status not in ("SUCCESS", "ERROR"):
                    row.status = "ENQUEUED"
                    row.queue_name = request.queue_name or "_dbos_internal_queue"

        error = self._attempt(resume, f"resuming workflow(s) {ids}")
        return p.ResumeResponse(
            type=p.MessageType.RESUME,
            request_id=request.request_id,
            success=error is None,
            error_message=error,
        )

    def _fork(self, text: str) -> Any:
        body = p.ForkWorkflowRequest.from_json(text).body
        new_id: str | None = body["new_workflow_id"] or str(uuid.uuid4())

        def fork() -> None:
            source = self._row(body["workflow_id"])
            assert new_id is not None
            self.rows[new_id] = Row(
                workflow_id=new_id,
                status="ENQUEUED",
                queue_name=body["queue_name"] or "_dbos_internal_queue",
                forked_from=source.workflow_id,
            )

        error = self._attempt(fork, f"forking workflow {body['workflow_id']}")
        return p.ForkWorkflowResponse(
            type=p.MessageType.FORK_WORKFLOW,
            request_id=orjson.loads(text)["request_id"],
            new_workflow_id=None if error else new_id,
            error_message=error,
        )

    def _delete(self, text: str) -> Any:
        request = p.DeleteRequest.from_json(text)
        ids = request.workflow_ids or [request.workflow_id]

        def delete() -> None:
            for workflow_id in ids:
                self.rows.pop(workflow_id, None)

        error = self._attempt(delete, f"deleting workflow(s) {ids}")
        return p.DeleteResponse(
            type=p.MessageType.DELETE,
            request_id=request.request_id,
            success=error is None,
            error_message=error,
        )

    def _events(self, text: str) -> Any:
        request = p.GetWorkflowEventsRequest.from_json(text)
        events: list[Any] | None = None

        def read() -> None:
            nonlocal events
            row = self._row(request.workflow_id)
            events = [p.EventOutput.from_event_data(k, v) for k, v in row.events.items()]

        error = self._attempt(read, f"getting events for workflow {request.workflow_id}")
        return p.GetWorkflowEventsResponse(
            type=p.MessageType.GET_WORKFLOW_EVENTS,
            request_id=request.request_id,
            events=events,
            error_message=error,
        )


def table() -> list[Row]:
    return [
        Row(workflow_id="wf-1", status="PENDING", children=["wf-1-child"]),
        Row(workflow_id="wf-1-child", status="PENDING"),
        Row(workflow_id="wf-2", status="ENQUEUED", queue_name="orders-q"),
        Row(workflow_id="wf-3", status="SUCCESS", events={"progress": 1.0, "stage": "shipped"}),
        Row(workflow_id="wf-4", status="ERROR"),
    ]


# -- requests and replies --------------------------------------------------------------------------


def request(
    gateway: Gateway,
    kind: RequestKind,
    workflow_id: str = "",
    *,
    target: str = EXECUTOR,
    timeout_ms: int = 5_000,
    **params: Any,
) -> ExecutorRequest:
    return executor_request(
        gateway, kind, workflow_id, app=APP, target=target, timeout_ms=timeout_ms, **params
    )


async def ask(commands: CommandSender, replies: EventLog, sent: ExecutorRequest) -> ExecutorReply:
    """Publish ``sent`` and wait for its one reply."""
    await commands.send(sent)
    (reply,) = await eventually(lambda: replies_to(replies, sent), f"{sent.kind} answered")
    assert (reply.app, reply.executor_id) == (sent.app, sent.target)
    assert reply.ok is (reply.failure is None), reply
    return reply


# -- acting on workflows ---------------------------------------------------------------------------


async def test_cancel_one_workflow_then_several(
    make_gateway: MakeGateway,
    keys: KeyBook,
    events: EventLog,
    replies: EventLog,
    commands: CommandSender,
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway() as gateway:
        model = ManagedExecutor(executor_url(gateway, APP, key), EXECUTOR, table())
        async with model:
            await connected(events, EXECUTOR)

            one = await ask(commands, replies, request(gateway, RequestKind.CANCEL, "wf-1"))
            assert one.ok, one.error
            assert (one.result, one.error, one.gateway) == (
                {"workflow_ids": ["wf-1"]},
                None,
                gateway.config.gateway_id,
            )
            assert model.rows["wf-1"].status == "CANCELLED"
            assert model.rows["wf-1-child"].status == "PENDING"  # cancel_children defaults off

            bulk = request(gateway, RequestKind.CANCEL, workflow_ids=["wf-2", "wf-3", "wf-1-child"])
            several = await ask(commands, replies, bulk)
            assert several.ok, several.error
            assert several.result == {"workflow_ids": ["wf-2", "wf-3", "wf-1-child"]}
            assert {i: r.status for i, r in model.rows.items()} == {
                "wf-1": "CANCELLED",
                "wf-1-child": "CANCELLED",
                "wf-2": "CANCELLED",
                "wf-3": "SUCCESS",  # DBOS leaves finished workflows alone
                "wf-4": "ERROR",
            }
            # One DBOS verb for the whole batch.
            assert [m.get("workflow_ids") for m in model.requests("cancel")] == [
                None,
                ["wf-2", "wf-3", "wf-1-child"],
            ]


async def test_cancel_children_resume_and_delete(
    make_gateway: MakeGateway,
    keys: KeyBook,
    events: EventLog,
    replies: EventLog,
    commands: CommandSender,
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway() as gateway:
        model = ManagedExecutor(executor_url(gateway, APP, key), EXECUTOR, table())
        async with model:
            await connected(events, EXECUTOR)
            cancel = request(gateway, RequestKind.CANCEL, "wf-1", cancel_children=True)
            assert (await ask(commands, replies, cancel)).ok
            assert (model.rows["wf-1"].status, model.rows["wf-1-child"].status) == (
                "CANCELLED",
                "CANCELLED",
            )

            resume = request(gateway, RequestKind.RESUME, "wf-1", queue_name="slow-q")
            resumed = await ask(commands, replies, resume)
            assert (resumed.ok, resumed.result) == (True, {"workflow_ids": ["wf-1"]})
            assert (model.rows["wf-1"].status, model.rows["wf-1"].queue_name) == (
                "ENQUEUED",
                "slow-q",
            )

            delete = request(gateway, RequestKind.DELETE, workflow_ids=["wf-3", "wf-4"])
            deleted = await ask(commands, replies, delete)
            assert (deleted.ok, deleted.result) == (True, {"workflow_ids": ["wf-3", "wf-4"]})
            assert sorted(model.rows) == ["wf-1", "wf-1-child", "wf-2"]


async def test_fork_answers_the_new_workflow_id(
    make_gateway: MakeGateway,
    keys: KeyBook,
    events: EventLog,
    replies: EventLog,
    commands: CommandSender,
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway() as gateway:
        model = ManagedExecutor(executor_url(gateway, APP, key), EXECUTOR, table())
        async with model:
            await connected(events, EXECUTOR)
            fork = request(
                gateway, RequestKind.FORK, "wf-4", start_step=2, new_workflow_id="wf-4-retry"
            )
            reply = await ask(commands, replies, fork)
            assert reply.ok, reply.error
            assert reply.result == {"new_workflow_id": "wf-4-retry"}
            forked = model.rows["wf-4-retry"]
            assert (forked.status, forked.forked_from) == ("ENQUEUED", "wf-4")
            (sent,) = model.requests("fork_workflow")
            assert sent["body"]["start_step"] == 2


async def test_events_are_read_live(
    make_gateway: MakeGateway,
    keys: KeyBook,
    events: EventLog,
    replies: EventLog,
    commands: CommandSender,
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway() as gateway:
        model = ManagedExecutor(executor_url(gateway, APP, key), EXECUTOR, table())
        async with model:
            await connected(events, EXECUTOR)
            reply = await ask(commands, replies, request(gateway, RequestKind.GET_EVENTS, "wf-3"))
            assert reply.ok, reply.error
            assert reply.result == {
                "events": [
                    {"key": "progress", "value": "1.0"},
                    {"key": "stage", "value": "shipped"},
                ]
            }


# -- failures --------------------------------------------------------------------------------------


async def test_a_verb_the_client_is_known_to_lack_is_refused_without_asking_it(
    make_gateway: MakeGateway,
    keys: KeyBook,
    events: EventLog,
    replies: EventLog,
    commands: CommandSender,
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway() as gateway:
        url = executor_url(gateway, APP, key)
        model = ManagedExecutor(url, EXECUTOR, table(), language="java", dbos_version="1.1.0-m6")
        async with model:
            await connected(events, EXECUTOR)
            rewind = request(gateway, RequestKind.REWIND, "wf-3", start_step=1)
            reply = await ask(commands, replies, rewind)
            assert (reply.ok, reply.failure) == (False, Failure.UNSUPPORTED)
            assert reply.error == (
                "the Java client 1.1.0-m6 of executor exec-1 does not support rewind_workflow; "
                "fork it from that step instead (a new workflow id)"
            )
            assert model.requests("rewind_workflow") == []


async def test_an_unknown_type_answer_is_unsupported_naming_the_client(
    make_gateway: MakeGateway,
    keys: KeyBook,
    events: EventLog,
    replies: EventLog,
    commands: CommandSender,
) -> None:
    """A release not known to lack the verb is asked; its "Unknown message type" says it does."""
    _, key = await keys.create(APP)
    async with make_gateway() as gateway:
        url = executor_url(gateway, APP, key)
        model = ManagedExecutor(url, EXECUTOR, table(), dbos_version="2.32.0")
        async with model:
            await connected(events, EXECUTOR)
            rewind = request(gateway, RequestKind.REWIND, "wf-3", timeout_ms=30_000)
            reply = await ask(commands, replies, rewind)
            assert (reply.ok, reply.failure) == (False, Failure.UNSUPPORTED)
            assert reply.error == (
                "the Python client 2.32.0 of executor exec-1 does not support rewind_workflow "
                "(it answered: unknown message type)"
            )
            [asked] = model.requests("rewind_workflow")
            assert asked["body"]["workflow_id"] == "wf-3"
            assert model.rows["wf-3"].status == "SUCCESS"


async def test_a_metadata_only_executor_refuses_data_requests_clearly(
    make_gateway: MakeGateway,
    keys: KeyBook,
    events: EventLog,
    replies: EventLog,
    commands: CommandSender,
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway() as gateway:
        model = ManagedExecutor(executor_url(gateway, APP, key), EXECUTOR, table())
        model.metadata_only = True
        async with model:
            await connected(events, EXECUTOR)
            reply = await ask(commands, replies, request(gateway, RequestKind.GET_EVENTS, "wf-3"))
            assert (reply.ok, reply.failure) == (False, Failure.METADATA_ONLY)
            assert reply.error is not None
            assert "metadata-only Conductor mode and refuses get_workflow_events" in reply.error
            cancel = await ask(commands, replies, request(gateway, RequestKind.CANCEL, "wf-1"))
            assert cancel.ok, cancel.error


async def test_an_executor_error_is_an_executor_error_with_its_text_bounded(
    make_gateway: MakeGateway,
    keys: KeyBook,
    events: EventLog,
    replies: EventLog,
    commands: CommandSender,
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway() as gateway:
        model = ManagedExecutor(executor_url(gateway, APP, key), EXECUTOR, table())
        async with model:
            await connected(events, EXECUTOR)
            # An unknown source workflow: DBOS's fork raises, conductor.py sends the traceback.
            fork = request(
                gateway, RequestKind.FORK, "wf-nobody", start_step=1, new_workflow_id="n"
            )
            unknown = await ask(commands, replies, fork)
            assert (unknown.ok, unknown.failure, unknown.result) == (
                False,
                Failure.EXECUTOR_ERROR,
                None,
            )
            assert unknown.error is not None
            assert unknown.error.startswith(
                "fork_workflow failed on the executor: Exception encountered when forking"
            )
            assert "Traceback" in unknown.error

            model.fail_with = "Exception encountered when cancelling workflow(s): Traceback\n" + (
                "x" * (MAX_TEXT_CHARS * 3)
            )
            failed = await ask(commands, replies, request(gateway, RequestKind.CANCEL, "wf-2"))
            assert (failed.ok, failed.failure) == (False, Failure.EXECUTOR_ERROR)
            assert failed.error is not None
            assert failed.error.startswith("cancel failed on the executor: Exception encountered")
            assert len(failed.error) <= MAX_TEXT_CHARS
            assert model.rows["wf-2"].status == "ENQUEUED"


async def test_bad_params_fail_in_the_gateway_without_asking_the_executor(
    make_gateway: MakeGateway,
    keys: KeyBook,
    events: EventLog,
    replies: EventLog,
    commands: CommandSender,
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway() as gateway:
        model = ManagedExecutor(executor_url(gateway, APP, key), EXECUTOR, table())
        async with model:
            await connected(events, EXECUTOR)
            bad = request(gateway, RequestKind.FORK, "wf-4", start_step="2")
            reply = await ask(commands, replies, bad)
            assert (reply.ok, reply.failure) == (False, Failure.GATEWAY_ERROR)
            assert reply.error == "invalid params for fork: start_step must be an integer"
            assert model.requests("fork_workflow") == []
            assert not gateway.failed.is_set()


async def test_a_target_not_connected_here_is_not_connected(
    make_gateway: MakeGateway, replies: EventLog, commands: CommandSender
) -> None:
    async with make_gateway() as gateway:
        cancel = request(gateway, RequestKind.CANCEL, "wf-1", target="exec-gone")
        lookup = request(gateway, RequestKind.GET_WORKFLOW, "wf-1", target="exec-gone")
        for sent in (cancel, lookup):
            reply = await ask(commands, replies, sent)
            assert (reply.ok, reply.failure, reply.error) == (
                False,
                Failure.NOT_CONNECTED,
                "target not connected here",
            )


async def test_an_executor_leaving_mid_request_is_disconnected(
    make_gateway: MakeGateway,
    keys: KeyBook,
    events: EventLog,
    replies: EventLog,
    commands: CommandSender,
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway() as gateway:
        model = ManagedExecutor(executor_url(gateway, APP, key), EXECUTOR, table())
        model.disconnect_on = "delete"
        async with model:
            await connected(events, EXECUTOR)
            reply = await ask(commands, replies, request(gateway, RequestKind.DELETE, "wf-3"))
            assert (reply.ok, reply.failure) == (False, Failure.DISCONNECTED)
            assert reply.error == "the executor disconnected mid-request"
            assert len(model.requests("delete")) == 1


async def test_an_executor_that_does_not_answer_in_time_is_a_timeout(
    make_gateway: MakeGateway,
    keys: KeyBook,
    events: EventLog,
    replies: EventLog,
    commands: CommandSender,
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway() as gateway:
        model = ManagedExecutor(executor_url(gateway, APP, key), EXECUTOR, table())
        model.silent_on = "resume"
        async with model:
            await connected(events, EXECUTOR)
            late = request(gateway, RequestKind.RESUME, "wf-1", timeout_ms=300)
            reply = await ask(commands, replies, late)
            assert (reply.ok, reply.failure) == (False, Failure.TIMEOUT)
            assert reply.error == "no resume reply within 0.3 s"


async def test_a_request_delivered_twice_acts_once_and_is_answered_once(
    make_gateway: MakeGateway,
    keys: KeyBook,
    events: EventLog,
    replies: EventLog,
    commands: CommandSender,
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway() as gateway:
        model = ManagedExecutor(executor_url(gateway, APP, key), EXECUTOR, table())
        async with model:
            await connected(events, EXECUTOR)
            twice = request(gateway, RequestKind.CANCEL, "wf-1")
            later = request(gateway, RequestKind.CANCEL, "wf-2")
            for sent in (twice, twice, later):
                await commands.send(sent)
            # Same target, same partition, read in order: once ``later`` is answered, the copy
            # was read (and its verb, had it been sent, would have reached the model first).
            await eventually(lambda: replies_to(replies, later), "the later request answered")
            (reply,) = await eventually(lambda: replies_to(replies, twice), "the first answered")
            assert reply.ok, reply.error
            assert [m["workflow_id"] for m in model.requests("cancel")] == ["wf-1", "wf-2"]
            assert len(replies_to(replies, twice)) == 1
