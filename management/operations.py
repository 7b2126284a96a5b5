"""What each operator action is: its request kind, parameters, audited name and version rule.

Owns the JSON bodies the action endpoints accept (every field checked, unknown fields refused with
``BadParameter``) and the ``Operation`` each one becomes. Pure: no HTTP, no store, no clock; the
caller supplies what must be looked up (the workflow's application version).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

from management.params import MAX_TEXT_PARAM_CHARS, BadParameter, parse_workflow_id
from streams.records import RequestKind

MAX_IMPORT_CHARS = 900_000
"""An imported workflow travels in one Kafka record; larger ones are refused."""
MAX_START_STEP = 1_000_000
RESTART_START_STEP = 0
"""A restart is a fork from before the first step: DBOS numbers a workflow's first step 1 in Python
and 0 in TypeScript, and a fork copies the checkpoints of the steps numbered below ``start_step``,
so 0 copies none in either (1 would reuse a TypeScript workflow's first step)."""


class WorkflowAction(StrEnum):
    """The actions on one workflow (and, in bulk, on many)."""

    CANCEL = "cancel"
    RESUME = "resume"
    RESTART = "restart"
    FORK = "fork"
    REWIND = "rewind"
    DELETE = "delete"


VERSIONED_ACTIONS = (
    WorkflowAction.RESUME,
    WorkflowAction.RESTART,
    WorkflowAction.FORK,
    WorkflowAction.REWIND,
)
"""The actions that run the workflow's code again: the caller looks up its application version
(``stored_version`` of ``workflow_operation``)."""


class ScheduleAction(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    TRIGGER = "trigger"
    BACKFILL = "backfill"


_SCHEDULE_KINDS = {
    ScheduleAction.PAUSE: RequestKind.PAUSE_SCHEDULE,
    ScheduleAction.RESUME: RequestKind.RESUME_SCHEDULE,
    ScheduleAction.TRIGGER: RequestKind.TRIGGER_SCHEDULE,
    ScheduleAction.BACKFILL: RequestKind.BACKFILL_SCHEDULE,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
    """One action, as built by ``management.operations``.

    Attributes:
        action: the audited name, e.g. ``workflow.cancel``.
        kind: the executor request that carries it out.
        target: what it is done to (audited subject): a workflow id, schedule or version name.
        workflow_id: the request's workflow (empty for app-wide kinds).
        params: the request's parameters.
        version: only an executor of this application version may carry it out (None: any).
        audited_params: the parameters as audited (large blobs summarised); None: ``params``.
    """

    action: str
    kind: RequestKind
    target: str
    workflow_id: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    version: str | None = None
    audited_params: Mapping[str, Any] | None = None


class JsonBody:
    """A request's JSON object, read field by field; ``close()`` refuses fields nobody read.

    Raises (every getter):
        BadParameter: the field has the wrong type or is out of range.
    """

    def __init__(self, data: object) -> None:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise BadParameter("body", "the request body must be a JSON object")
        self._data: Mapping[str, Any] = data
        self._read: set[str] = set()

    def flag(self, name: str, default: bool = False) -> bool:
        value = self._get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise BadParameter(name, "must be true or false")
        return value

    def text(self, name: str, *, max_chars: int = MAX_TEXT_PARAM_CHARS) -> str | None:
        """A text field; absent, null and ``""`` are None."""
        value = self._get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise BadParameter(name, "must be a string")
        if len(value) > max_chars:
            raise BadParameter(name, f"must be at most {max_chars} characters")
        if "\x00" in value:
            raise BadParameter(name, "must not contain NUL characters")
        return value

    def required_text(self, name: str, *, max_chars: int = MAX_TEXT_PARAM_CHARS) -> str:
        value = self.text(name, max_chars=max_chars)
        if value is None:
            raise BadParameter(name, "is required")
        return value

    def integer(self, name: str, *, low: int, high: int) -> int | None:
        value = self._get(name)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise BadParameter(name, f"must be an integer from {low} to {high}")
        return value

    def timestamp(self, name: str) -> str:
        """A required ISO 8601 time with a zone, returned in ISO form."""
        value = self.required_text(name, max_chars=64)
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise BadParameter(name, "must be an ISO 8601 time, e.g. 2026-01-31T12:00:00Z") from exc
        if parsed.tzinfo is None:
            raise BadParameter(name, "must name its time zone, e.g. ...Z or ...+01:00")
        return parsed.isoformat()

    def raw(self, name: str) -> Any:
        """A field as it came (the caller checks it)."""
        return self._get(name)

    def close(self) -> None:
        """Refuse any field nobody read: a typo must not be silently ignored."""
        unknown = sorted(set(self._data) - self._read)
        if unknown:
            raise BadParameter(unknown[0], "is not a field of this request")

    def _get(self, name: str) -> Any:
        self._read.add(name)
        return self._data.get(name)


def workflow_operation(
    action: WorkflowAction, workflow_id: str, body: JsonBody, *, stored_version: str | None
) -> Operation:
    """The operation of an action on one workflow.

    Args:
        action: which action.
        workflow_id: the workflow.
        body: the request's fields (closed here).
        stored_version: the workflow's application version as the store knows it (None: unknown);
            resume, restart and rewind need an executor of that version (``VERSIONED_ACTIONS``).
    """
    match action:
        case WorkflowAction.CANCEL:
            params: dict[str, Any] = {"cancel_children": body.flag("cancel_children")}
            kind, version = RequestKind.CANCEL, None
        case WorkflowAction.RESUME:
            params = _without_none({"queue_name": body.text("queue_name")})
            kind, version = RequestKind.RESUME, stored_version
        case WorkflowAction.RESTART:
            params = {"start_step": RESTART_START_STEP}
            kind, version = RequestKind.FORK, stored_version
        case WorkflowAction.FORK:
            start_step = body.integer("start_step", low=0, high=MAX_START_STEP)
            if start_step is None:
                raise BadParameter("start_step", "is required: the first step to run again (≥ 0)")
            new_id = body.text("new_workflow_id")
            to_version = body.text("application_version")
            params = _without_none(
                {
                    "start_step": start_step,
                    "new_workflow_id": None if new_id is None else parse_workflow_id(new_id),
                    "application_version": to_version,
                    "queue_name": body.text("queue_name"),
                }
            )
            kind, version = RequestKind.FORK, to_version or stored_version
        case WorkflowAction.REWIND:
            params = _without_none(
                {
                    "start_step": body.integer("start_step", low=0, high=MAX_START_STEP),
                    "application_version": body.text("application_version"),
                    "queue_name": body.text("queue_name"),
                }
            )
            kind = RequestKind.REWIND
            version = params.get("application_version") or stored_version
        case WorkflowAction.DELETE:
            params = {"delete_children": body.flag("delete_children")}
            kind, version = RequestKind.DELETE, None
    body.close()
    return Operation(
        action=f"workflow.{action.value}",
        kind=kind,
        target=workflow_id,
        workflow_id=workflow_id,
        params=params,
        version=version,
    )


def schedule_operation(action: ScheduleAction, schedule_name: str, body: JsonBody) -> Operation:
    """The operation of an action on one schedule (backfill takes ``start`` and ``end``)."""
    params: dict[str, Any] = {"schedule_name": schedule_name}
    if action is ScheduleAction.BACKFILL:
        params["start"] = body.timestamp("start")
        params["end"] = body.timestamp("end")
        if datetime.fromisoformat(params["end"]) <= datetime.fromisoformat(params["start"]):
            raise BadParameter("end", "must be after start")
    body.close()
    return Operation(
        action=f"schedule.{action.value}",
        kind=_SCHEDULE_KINDS[action],
        target=schedule_name,
        params=params,
    )


def set_latest_version_operation(body: JsonBody) -> Operation:
    """Make a version the app's latest (new workflows run on it)."""
    name = body.required_text("version_name")
    body.close()
    return Operation(
        action="version.set_latest",
        kind=RequestKind.SET_LATEST_VERSION,
        target=name,
        params={"version_name": name},
    )


def export_operation(workflow_id: str, *, children: bool) -> Operation:
    """Export a workflow (with its children) as DBOS serialises it."""
    return Operation(
        action="workflow.export",
        kind=RequestKind.EXPORT_WORKFLOW,
        target=workflow_id,
        workflow_id=workflow_id,
        params={"export_children": children},
    )


def import_operation(body: JsonBody) -> Operation:
    """Import a workflow exported from this or another app."""
    serialized = body.required_text("serialized_workflow", max_chars=MAX_IMPORT_CHARS)
    body.close()
    encoded = len(orjson.dumps(serialized))
    if encoded > MAX_IMPORT_CHARS:
        raise BadParameter(
            "serialized_workflow",
            f"is {encoded} bytes as JSON, over the {MAX_IMPORT_CHARS} a Kafka record carries",
        )
    return Operation(
        action="workflow.import",
        kind=RequestKind.IMPORT_WORKFLOW,
        target="(import)",
        params={"serialized_workflow": serialized},
        audited_params={"serialized_workflow_chars": len(serialized)},
    )


def _without_none(params: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in params.items() if value is not None}


PAYLOAD_KINDS: Mapping[RequestKind, str] = {
    RequestKind.EXPORT_WORKFLOW: "exporting a workflow",
    RequestKind.IMPORT_WORKFLOW: "importing a workflow",
    RequestKind.GET_EVENTS: "reading a workflow's events",
    RequestKind.GET_NOTIFICATIONS: "reading a workflow's notifications",
    RequestKind.GET_STREAMS: "reading a workflow's streams",
}
"""Requests whose very point is a workflow's payloads, and what each is: an export carries the
workflow's inputs and outputs, an import writes them, events, notifications and streams are values
the workflow exchanged. Refused for an app with payload privacy on (``store.app_settings``)."""
