"""DBOS observability verbs: ``list_workflows``, ``get_workflow`` and ``list_steps``.

Builds the requests and reads the replies into Baton records (``WorkflowStatus``, ``StepInfo``).
Ground truth: ``dbos/_conductor/protocol.py`` (``ListWorkflowsBody``, ``WorkflowsOutput``,
``WorkflowSteps``) and the handlers in ``conductor.py`` of ``dbos==2.31.1``. DBOS sends every number
of a ``WorkflowsOutput`` as a string (``str(int)``); the reader accepts strings and integers.

Executor output is untrusted and read by ``gateway.replies``'s rule: an item without a workflow id
is dropped, texts are bounded as each ``WorkflowStatus`` field declares, a field of the wrong type
is read as absent. The reader is derived from ``WorkflowStatus``'s fields; only their DBOS names
are listed here. Errors (``error_message``) are the caller's to check first (``replies.check``).
Pure: no asyncio, websockets or clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import Field, dataclass, fields
from datetime import UTC, datetime
from functools import partial
from typing import Any, get_type_hints

from gateway import replies
from gateway.protocol import MessageType, Reply, Request
from streams.bounds import LABEL, MAX_STEPS, PAYLOAD, TEXT, bound_of
from streams.ids import AppName, WorkflowId
from streams.records import StepInfo, WorkflowStatus


def dbos_time(epoch_ms: int) -> str:
    """An epoch-ms instant as the ISO 8601 text DBOS filters take (``start_time``, ...).

    DBOS reads it back as ``int(fromisoformat(t).timestamp() * 1000)``: half a millisecond is
    added so that float rounding lands on ``epoch_ms`` itself, not one millisecond below.
    """
    moment = datetime.fromtimestamp(epoch_ms // 1000, tz=UTC)
    return moment.replace(microsecond=(epoch_ms % 1000) * 1000 + 500).isoformat()


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowQuery:
    """The filters of one ``list_workflows`` request that the capture uses."""

    created_from_ms: int | None = None
    created_before_ms: int | None = None
    """Exclusive upper bound of the creation time."""
    completed_from_ms: int | None = None
    completed_before_ms: int | None = None
    """Exclusive upper bound of the completion time."""
    statuses: tuple[str, ...] = ()
    workflow_ids: tuple[str, ...] = ()
    load_input: bool = False
    load_output: bool = False
    limit: int = 100
    offset: int = 0
    newest_first: bool = False


def list_workflows_request(query: WorkflowQuery) -> Request:
    """DBOS conductor ``list_workflows`` verb, oldest first unless ``newest_first``."""
    body: dict[str, Any] = {
        "limit": query.limit,
        "offset": query.offset,
        "sort_desc": query.newest_first,
        "load_input": query.load_input,
        "load_output": query.load_output,
    }
    if query.created_from_ms is not None:
        body["start_time"] = dbos_time(query.created_from_ms)
    if query.created_before_ms is not None:
        body["end_time"] = dbos_time(query.created_before_ms - 1)  # DBOS: inclusive
    if query.completed_from_ms is not None:
        body["completed_after"] = dbos_time(query.completed_from_ms)
    if query.completed_before_ms is not None:
        body["completed_before"] = dbos_time(query.completed_before_ms - 1)  # DBOS: inclusive
    if query.statuses:
        body["status"] = list(query.statuses)
    if query.workflow_ids:
        body["workflow_uuids"] = list(query.workflow_ids)
    return Request(type=MessageType.LIST_WORKFLOWS, fields={"body": body})


def get_workflow_request(workflow_id: str, *, payloads: bool = True) -> Request:
    """DBOS conductor ``get_workflow`` verb, with inputs and outputs unless ``payloads`` is
    false (payload privacy: DBOS then loads neither, nor the error)."""
    return Request(
        type=MessageType.GET_WORKFLOW,
        fields={"workflow_id": workflow_id, "load_input": payloads, "load_output": payloads},
    )


def list_steps_request(workflow_id: str, *, payloads: bool = True) -> Request:
    """DBOS conductor ``list_steps`` verb, at most ``MAX_STEPS`` steps, with their outputs
    unless ``payloads`` is false (DBOS then loads neither outputs nor errors)."""
    return Request(
        type=MessageType.LIST_STEPS,
        fields={"workflow_id": workflow_id, "load_output": payloads, "limit": MAX_STEPS},
    )


def read_workflows(
    reply: Reply, app: AppName, observed_at_ms: int, *, has_input: bool, has_output: bool
) -> list[WorkflowStatus]:
    """The workflows of a ``list_workflows`` reply (``output``: a list of ``WorkflowsOutput``)."""
    items = reply.data.get("output")
    if not isinstance(items, list):
        return []
    out = []
    for item in items:
        status = read_workflow(
            item, app, observed_at_ms, has_input=has_input, has_output=has_output
        )
        if status is not None:
            out.append(status)
    return out


def read_get_workflow(
    reply: Reply, app: AppName, observed_at_ms: int, *, payloads: bool = True
) -> WorkflowStatus | None:
    """The workflow of a ``get_workflow`` reply; ``None`` when the executor does not know it.

    Without ``payloads`` its input, output and error are dropped whatever the executor sent (an
    older DBOS may ignore ``load_input``/``load_output``)."""
    return read_workflow(
        reply.data.get("output"), app, observed_at_ms, has_input=payloads, has_output=payloads
    )


def read_steps(reply: Reply, *, payloads: bool = True) -> tuple[StepInfo, ...] | None:
    """The steps of a ``list_steps`` reply; ``None`` when the executor does not know them.

    Without ``payloads`` their outputs and errors are dropped whatever the executor sent."""
    items = reply.data.get("output")
    if not isinstance(items, list):
        return None
    steps = (_step(item, payloads) for item in items[:MAX_STEPS] if isinstance(item, Mapping))
    return tuple(step for step in steps if step is not None)


DBOS_KEYS: dict[str, str] = {
    "status": "Status",
    "name": "WorkflowName",
    "class_name": "WorkflowClassName",
    "config_name": "WorkflowConfigName",
    "authenticated_user": "AuthenticatedUser",
    "assumed_role": "AssumedRole",
    "authenticated_roles": "AuthenticatedRoles",
    "input": "Input",
    "output": "Output",
    "error": "Error",
    "created_at_ms": "CreatedAt",
    "updated_at_ms": "UpdatedAt",
    "completed_at_ms": "CompletedAt",
    "dequeued_at_ms": "DequeuedAt",
    "queue_name": "QueueName",
    "queue_partition_key": "QueuePartitionKey",
    "deduplication_id": "DeduplicationID",
    "priority": "Priority",
    "application_version": "ApplicationVersion",
    "executor_id": "ExecutorID",
    "timeout_ms": "WorkflowTimeoutMS",
    "deadline_epoch_ms": "WorkflowDeadlineEpochMS",
    "delay_until_epoch_ms": "DelayUntilEpochMS",
    "forked_from": "ForkedFrom",
    "was_forked_from": "WasForkedFrom",
    "parent_workflow_id": "ParentWorkflowID",
    "attributes": "Attributes",
    "schedule_name": "ScheduleName",
}
"""The DBOS ``WorkflowsOutput`` key of each ``WorkflowStatus`` field the executor reports."""

NOT_REPORTED = frozenset({"app", "workflow_id", "observed_at_ms", "has_input", "has_output"})
"""``WorkflowStatus`` fields the reader sets itself (the id is checked before the rest)."""


def _field_reader(field: Field[Any], kind: object) -> Callable[[object], Any]:
    """How one ``WorkflowStatus`` field is read from DBOS (``gateway.replies``'s rule)."""
    bound = bound_of(field)
    if bound is not None:
        return partial(replies.text, bound=bound)
    if kind == int | None:
        return replies.integer
    if kind is bool:
        return replies.flag
    raise TypeError(f"no DBOS reader for WorkflowStatus.{field.name}: {kind}")


_HINTS = get_type_hints(WorkflowStatus)
_READERS = [
    (f.name, DBOS_KEYS[f.name], _field_reader(f, _HINTS[f.name]))
    for f in fields(WorkflowStatus)
    if f.name not in NOT_REPORTED
]
"""``(field, DBOS key, reader)`` of every reported field, derived from ``WorkflowStatus``."""


def read_workflow(
    item: object, app: AppName, observed_at_ms: int, *, has_input: bool, has_output: bool
) -> WorkflowStatus | None:
    """One ``WorkflowsOutput`` as a ``WorkflowStatus``; ``None`` if its workflow id is missing or
    not one to keep whole (``replies.workflow_id``: empty, too long, or holding a NUL)."""
    if not isinstance(item, Mapping):
        return None
    workflow_id = replies.workflow_id(item.get("WorkflowUUID"))
    if workflow_id is None:
        return None  # unaddressable here: a cut id would name another workflow
    values = {name: read(item.get(key)) for name, key, read in _READERS}
    values["status"] = values["status"] or "UNKNOWN"
    if not has_input:
        values["input"] = None
    if not has_output:
        values["output"] = values["error"] = None
    return WorkflowStatus(
        app=app,
        workflow_id=WorkflowId(workflow_id),
        observed_at_ms=observed_at_ms,
        has_input=has_input,
        has_output=has_output,
        **values,
    )


def _step(item: Mapping[str, Any], payloads: bool) -> StepInfo | None:
    function_id = replies.integer(item.get("function_id"))
    if function_id is None:
        return None
    return StepInfo(
        function_id=function_id,
        function_name=replies.text(item.get("function_name"), LABEL) or "",
        output=replies.text(item.get("output"), PAYLOAD) if payloads else None,
        error=replies.text(item.get("error"), TEXT) if payloads else None,
        child_workflow_id=replies.workflow_id(item.get("child_workflow_id")),
        started_at_ms=replies.integer(item.get("started_at_epoch_ms")),
        completed_at_ms=replies.integer(item.get("completed_at_epoch_ms")),
    )


def newest(statuses: Sequence[WorkflowStatus], field: str) -> int | None:
    """The greatest value of an epoch-ms ``field`` (``created_at_ms``...) among ``statuses``."""
    values = [v for v in (getattr(s, field) for s in statuses) if isinstance(v, int)]
    return max(values, default=None)
