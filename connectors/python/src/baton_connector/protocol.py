"""The DBOS Conductor wire protocol as the connector speaks it: request decoding, reply encoding
and the JSON shapes of workflows and steps (DBOS 3.2.0's open ``dbos/_conductor/protocol.py`` is
the reference: same message types, same field names, numbers of a workflow sent as strings).

Pure: no ``dbos``, ``websockets``, threads or clock. Decoding ignores unknown fields, as DBOS's
``BaseMessage.from_json`` does, and raises only ``ProtocolError``.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from baton_connector.exceptions import ProtocolError

if TYPE_CHECKING:  # the type only: this module stays free of DBOS at run time
    from dbos import WorkflowStatus


class MessageType(str, Enum):
    """Every verb of the Conductor protocol (DBOS 3.2.0), in its order."""

    EXECUTOR_INFO = "executor_info"
    RECOVERY = "recovery"
    CANCEL = "cancel"
    DELETE = "delete"
    LIST_WORKFLOWS = "list_workflows"
    LIST_QUEUED_WORKFLOWS = "list_queued_workflows"
    RESUME = "resume"
    GET_WORKFLOW = "get_workflow"
    EXIST_PENDING_WORKFLOWS = "exist_pending_workflows"
    LIST_STEPS = "list_steps"
    FORK_WORKFLOW = "fork_workflow"
    RETENTION = "retention"
    GET_METRICS = "get_metrics"
    ALERT = "alert"
    EXPORT_WORKFLOW = "export_workflow"
    IMPORT_WORKFLOW = "import_workflow"
    LIST_SCHEDULES = "list_schedules"
    GET_SCHEDULE = "get_schedule"
    PAUSE_SCHEDULE = "pause_schedule"
    RESUME_SCHEDULE = "resume_schedule"
    BACKFILL_SCHEDULE = "backfill_schedule"
    TRIGGER_SCHEDULE = "trigger_schedule"
    LIST_APPLICATION_VERSIONS = "list_application_versions"
    SET_LATEST_APPLICATION_VERSION = "set_latest_application_version"
    GET_WORKFLOW_EVENTS = "get_workflow_events"
    GET_WORKFLOW_NOTIFICATIONS = "get_workflow_notifications"
    GET_WORKFLOW_STREAMS = "get_workflow_streams"
    GET_WORKFLOW_AGGREGATES = "get_workflow_aggregates"
    GET_STEP_AGGREGATES = "get_step_aggregates"
    FORK_FROM_FAILURE = "fork_from_failure"
    LIST_QUEUES = "list_queues"
    GET_QUEUE = "get_queue"
    REWIND_WORKFLOW = "rewind_workflow"


NOT_SUPPORTED = "not supported by this client"
"""The phrase every refusal of a verb the public DBOS API cannot serve carries."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """One request of the conductor."""

    type: str
    """The message type as sent (possibly one this connector does not know)."""
    request_id: str
    """Echoed in the reply."""
    data: Mapping[str, Any]
    """The whole decoded message."""

    def field(
        self, name: str, kind: builtins.type | tuple[builtins.type, ...], default: Any = None
    ) -> Any:
        """Field ``name`` of the message, or ``default`` when absent or null.

        Raises:
            ProtocolError: the field is present with another type than ``kind``.
        """
        value = self.data.get(name)
        if value is None:
            return default
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            raise ProtocolError(f"{self.type}: field {name!r} has the wrong type")
        return value

    def body(self) -> Mapping[str, Any]:
        """The ``body`` object of a request that has one (empty when absent)."""
        body: Mapping[str, Any] = self.field("body", dict, {})
        return body

    def ids(self) -> list[str]:
        """``workflow_ids`` if given, else ``[workflow_id]`` (cancel, delete, resume)."""
        many = self.field("workflow_ids", list)
        if many:
            if not all(isinstance(item, str) for item in many):
                raise ProtocolError(f"{self.type}: workflow_ids must be strings")
            return list(many)
        return [self.field("workflow_id", str, "")]


def decode(text: str) -> Request:
    """Parse one text frame.

    Raises:
        ProtocolError: not a JSON object with string ``type`` and ``request_id``.
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProtocolError("a frame is not JSON") from exc
    if not isinstance(data, dict):
        raise ProtocolError("a frame is not a JSON object")
    kind, request_id = data.get("type"), data.get("request_id")
    if not isinstance(kind, str) or not isinstance(request_id, str):
        raise ProtocolError("a frame lacks its type or request_id")
    return Request(type=kind, request_id=request_id, data=data)


def encode(request: Request, fields: Mapping[str, Any]) -> str:
    """The reply to ``request`` carrying ``fields``."""
    return json.dumps({"type": request.type, "request_id": request.request_id, **fields})


def error_fields(message: str) -> dict[str, Any]:
    """The fields of a failed reply (``success`` for the verbs that have it, ignored by others)."""
    return {"success": False, "error_message": message}


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def workflow_output(info: WorkflowStatus) -> dict[str, Any]:
    """A workflow as DBOS's ``WorkflowsOutput`` sends it (``str()`` of each value)."""
    return {
        "WorkflowUUID": info.workflow_id,
        "Status": info.status,
        "WorkflowName": info.name,
        "WorkflowClassName": info.class_name,
        "WorkflowConfigName": info.config_name,
        "AuthenticatedUser": info.authenticated_user,
        "AssumedRole": info.assumed_role,
        "AuthenticatedRoles": _text(info.authenticated_roles),
        "Input": _text(info.input),
        "Output": _text(info.output),
        "Error": _text(info.error),
        "CreatedAt": _text(info.created_at),
        "UpdatedAt": _text(info.updated_at),
        "QueueName": info.queue_name,
        "ApplicationVersion": info.app_version,
        "ExecutorID": info.executor_id,
        "WorkflowTimeoutMS": _text(info.workflow_timeout_ms),
        "WorkflowDeadlineEpochMS": _text(info.workflow_deadline_epoch_ms),
        "DeduplicationID": info.deduplication_id,
        "Priority": _text(info.priority),
        "QueuePartitionKey": info.queue_partition_key,
        "ForkedFrom": info.forked_from,
        "WasForkedFrom": bool(info.was_forked_from),
        "ParentWorkflowID": info.parent_workflow_id,
        "DequeuedAt": _text(info.dequeued_at),
        "DelayUntilEpochMS": _text(info.delay_until_epoch_ms),
        "CompletedAt": _text(info.completed_at),
        # JSON rather than str(), as DBOS sends it.
        "Attributes": None if info.attributes is None else json.dumps(info.attributes),
        "ScheduleName": info.schedule_name,
        "ApplicationName": info.application_name,
    }


def step_output(step: Mapping[str, Any]) -> dict[str, Any]:
    """A step (DBOS ``StepInfo``) as DBOS's ``WorkflowSteps`` sends it."""
    return {
        "function_id": step["function_id"],
        "function_name": step["function_name"],
        "output": _text(step.get("output")),
        "error": _text(step.get("error")),
        "child_workflow_id": step.get("child_workflow_id"),
        "started_at_epoch_ms": _text(step.get("started_at_epoch_ms")),
        "completed_at_epoch_ms": _text(step.get("completed_at_epoch_ms")),
    }


def schedule_output(schedule: Mapping[str, Any], *, load_context: bool) -> dict[str, Any]:
    """A schedule (DBOS ``WorkflowSchedule``, its context already deserialized)."""
    return {
        "schedule_id": schedule["schedule_id"],
        "schedule_name": schedule["schedule_name"],
        "workflow_name": schedule["workflow_name"],
        "workflow_class_name": schedule.get("workflow_class_name"),
        "schedule": schedule["schedule"],
        "status": schedule["status"],
        "context": _text(schedule.get("context")) if load_context else None,
        "last_fired_at": schedule.get("last_fired_at"),
        "automatic_backfill": bool(schedule.get("automatic_backfill", False)),
        "cron_timezone": schedule.get("cron_timezone"),
        "queue_name": schedule.get("queue_name"),
        "application_name": schedule.get("application_name"),
    }


def version_output(version: Mapping[str, Any]) -> dict[str, Any]:
    """An application version (DBOS ``VersionInfo``)."""
    return {
        key: version[key]
        for key in ("version_id", "version_name", "version_timestamp", "created_at")
    }


def events_output(events: Mapping[str, Any]) -> list[dict[str, str]]:
    """A workflow's events as ``[{key, value}]`` (``str()`` of each value)."""
    return [{"key": key, "value": str(value)} for key, value in events.items()]


def one_of(value: Any) -> str | list[str] | None:
    """A filter that DBOS accepts as one string or a list of strings, checked."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Sequence) and all(isinstance(item, str) for item in value):
        return list(value)
    raise ProtocolError("a filter must be a string or a list of strings")
