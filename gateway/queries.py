"""DBOS observability verbs: ``list_workflows``, ``get_workflow`` and ``list_steps``.

Builds the requests and reads the replies into Baton records (``WorkflowStatus``, ``StepInfo``).
Ground truth: ``dbos/_conductor/protocol.py`` (``ListWorkflowsBody``, ``WorkflowsOutput``,
``WorkflowSteps``) and the handlers in ``conductor.py`` of ``dbos==2.31.1``. DBOS sends every number
of a ``WorkflowsOutput`` as a string (``str(int)``); the reader accepts strings and integers.

Executor output is untrusted: an item without a workflow id is dropped, texts are bounded, a field
of the wrong type is read as absent. Pure: no asyncio, websockets or clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.protocol import MessageType, Reply, Request
from streams.bounds import MAX_PAYLOAD_CHARS, MAX_STEPS, bound_text
from streams.ids import AppName, WorkflowId
from streams.records import StepInfo, WorkflowStatus

MAX_ID_CHARS = 512

_INTEGER = re.compile(r"-?[0-9]{1,18}")
"""DBOS's ``str(int)``: ASCII digits only (``str.isdigit`` also accepts ``²`` and ``①``)."""


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


def get_workflow_request(workflow_id: str) -> Request:
    """DBOS conductor ``get_workflow`` verb, with inputs and outputs."""
    return Request(
        type=MessageType.GET_WORKFLOW,
        fields={"workflow_id": workflow_id, "load_input": True, "load_output": True},
    )


def list_steps_request(workflow_id: str) -> Request:
    """DBOS conductor ``list_steps`` verb, with outputs, at most ``MAX_STEPS`` steps."""
    return Request(
        type=MessageType.LIST_STEPS,
        fields={"workflow_id": workflow_id, "load_output": True, "limit": MAX_STEPS},
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


def read_get_workflow(reply: Reply, app: AppName, observed_at_ms: int) -> WorkflowStatus | None:
    """The workflow of a ``get_workflow`` reply; ``None`` when the executor does not know it."""
    return read_workflow(
        reply.data.get("output"), app, observed_at_ms, has_input=True, has_output=True
    )


def read_steps(reply: Reply) -> tuple[StepInfo, ...] | None:
    """The steps of a ``list_steps`` reply; ``None`` when the executor does not know them."""
    items = reply.data.get("output")
    if not isinstance(items, list):
        return None
    steps = (_step(item) for item in items[:MAX_STEPS] if isinstance(item, Mapping))
    return tuple(step for step in steps if step is not None)


def read_workflow(
    item: object, app: AppName, observed_at_ms: int, *, has_input: bool, has_output: bool
) -> WorkflowStatus | None:
    """One ``WorkflowsOutput`` as a ``WorkflowStatus``; ``None`` if its workflow id is missing or
    longer than ``MAX_ID_CHARS``."""
    if not isinstance(item, Mapping):
        return None
    workflow_id = item.get("WorkflowUUID")
    if not isinstance(workflow_id, str) or not 0 < len(workflow_id) <= MAX_ID_CHARS:
        return None  # unaddressable here: a cut id would name another workflow
    return WorkflowStatus(
        app=app,
        workflow_id=WorkflowId(workflow_id),
        status=_text(item, "Status", 64) or "UNKNOWN",
        observed_at_ms=observed_at_ms,
        name=_text(item, "WorkflowName"),
        class_name=_text(item, "WorkflowClassName"),
        config_name=_text(item, "WorkflowConfigName"),
        authenticated_user=_text(item, "AuthenticatedUser"),
        assumed_role=_text(item, "AssumedRole"),
        authenticated_roles=_text(item, "AuthenticatedRoles", 4096),
        input=_text(item, "Input", MAX_PAYLOAD_CHARS) if has_input else None,
        output=_text(item, "Output", MAX_PAYLOAD_CHARS) if has_output else None,
        error=_text(item, "Error", None) if has_output else None,
        has_input=has_input,
        has_output=has_output,
        created_at_ms=_int(item, "CreatedAt"),
        updated_at_ms=_int(item, "UpdatedAt"),
        completed_at_ms=_int(item, "CompletedAt"),
        dequeued_at_ms=_int(item, "DequeuedAt"),
        queue_name=_text(item, "QueueName"),
        queue_partition_key=_text(item, "QueuePartitionKey"),
        deduplication_id=_text(item, "DeduplicationID"),
        priority=_int(item, "Priority"),
        application_version=_text(item, "ApplicationVersion"),
        executor_id=_text(item, "ExecutorID"),
        timeout_ms=_int(item, "WorkflowTimeoutMS"),
        deadline_epoch_ms=_int(item, "WorkflowDeadlineEpochMS"),
        delay_until_epoch_ms=_int(item, "DelayUntilEpochMS"),
        forked_from=_id(item, "ForkedFrom"),
        was_forked_from=item.get("WasForkedFrom") is True,
        parent_workflow_id=_id(item, "ParentWorkflowID"),
        attributes=_text(item, "Attributes", 4096),
        schedule_name=_text(item, "ScheduleName"),
    )


def _step(item: Mapping[str, Any]) -> StepInfo | None:
    function_id = _int(item, "function_id")
    if function_id is None:
        return None
    return StepInfo(
        function_id=function_id,
        function_name=_text(item, "function_name") or "",
        output=_text(item, "output", MAX_PAYLOAD_CHARS),
        error=_text(item, "error", None),
        child_workflow_id=_id(item, "child_workflow_id"),
        started_at_ms=_int(item, "started_at_epoch_ms"),
        completed_at_ms=_int(item, "completed_at_epoch_ms"),
    )


def _text(item: Mapping[str, Any], name: str, limit: int | None = 256) -> str | None:
    value = item.get(name)
    if not isinstance(value, str):
        return None
    # PostgreSQL text cannot hold NUL: one such character would fail the store's whole batch.
    value = value.replace("\x00", "\ufffd")
    return bound_text(value) if limit is None else bound_text(value, limit)


def _id(item: Mapping[str, Any], name: str) -> str | None:
    """A workflow id, or ``None`` when longer than ``MAX_ID_CHARS`` (a cut id names nothing)."""
    value = item.get(name)
    return value if isinstance(value, str) and len(value) <= MAX_ID_CHARS else None


def _int(item: Mapping[str, Any], name: str) -> int | None:
    value = item.get(name)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    return None


def newest(statuses: Sequence[WorkflowStatus], field: str) -> int | None:
    """The greatest value of an epoch-ms ``field`` (``created_at_ms``...) among ``statuses``."""
    values = [v for v in (getattr(s, field) for s in statuses) if isinstance(v, int)]
    return max(values, default=None)
