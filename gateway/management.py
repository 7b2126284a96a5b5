"""DBOS management verbs: what operators do to workflows, schedules and application versions.

Builds the DBOS request of each management ``RequestKind`` from an ``ExecutorRequest``'s
``workflow_id`` and ``params``, and reads the executor's reply into the JSON ``result`` of the
``ExecutorReply`` (both shapes are tabled in ``docs/management-design.md``). Ground truth:
``dbos/_conductor/protocol.py`` (``CancelRequest``, ``ForkWorkflowBody``, ``ScheduleOutput``...) and
the handlers in ``conductor.py`` of ``dbos==2.31.1``.

Params come from the console: one that is missing or of the wrong type raises ``RecordError``
naming it (the request record is not a valid one of its kind). Replies come from the executor and
are read by ``gateway.replies``'s rule, as the observability verbs' are: an error
(``error_message``, ``success: false``) raises ``ExecutorFailed`` with its text bounded (DBOS sends
a traceback), texts are bounded and NUL-free, a field of the wrong type reads as absent. Here,
besides, lists hold at most ``MAX_RESULT_ITEMS`` items, a reply without the result its verb
promises fails, and a result too large for a Kafka record fails clearly instead of being cut.

Pure: no asyncio, websockets, Kafka or clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from gateway import replies
from gateway.protocol import MessageType, Reply, Request
from streams.bounds import PAYLOAD, TEXT
from streams.exceptions import (
    ConductorError,
    DataRefused,
    ExecutorFailed,
    RecordError,
    RequestTimeout,
    SessionClosed,
    VerbUnsupported,
)
from streams.fields import Fields
from streams.records import ReplyFailure, RequestKind

MAX_EXPORT_CHARS = 900_000
"""An exported workflow larger than this does not fit in a Kafka record (1 MiB by default)."""

MAX_RESULT_BYTES = 1_000_000
"""A result larger than this (as JSON) fails for the same reason (the rest of the reply record and
Kafka's batch overhead fit in what is left of 1 MiB)."""

MAX_RESULT_ITEMS = 1_000
"""Lists in a result (schedules, events, stream values...) are cut to this many items."""

MAX_BATCH_IDS = 1_000
"""A bulk request (``workflow_ids``) names at most this many workflows."""

OBSERVATION_KINDS = frozenset({RequestKind.GET_WORKFLOW, RequestKind.LIST_STEPS})
"""Answered by ``gateway.lookups``; every other kind is a management kind."""

MANAGEMENT_KINDS = frozenset(RequestKind) - OBSERVATION_KINDS

READ_ONLY_KINDS = frozenset(
    {
        RequestKind.LIST_SCHEDULES,
        RequestKind.LIST_VERSIONS,
        RequestKind.EXPORT_WORKFLOW,
        RequestKind.GET_EVENTS,
        RequestKind.GET_NOTIFICATIONS,
        RequestKind.GET_STREAMS,
    }
)
"""Management kinds that change nothing on the executor."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ManagementCall:
    """One management request, ready to send, and what its reader needs to know."""

    kind: RequestKind
    request: Request
    """The DBOS request (the session adds ``type`` and ``request_id`` to its fields)."""
    workflow_ids: tuple[str, ...] = ()
    """The workflows a cancel, resume or delete acts on (its result echoes them)."""


def management_call(
    kind: RequestKind, workflow_id: str, params: Mapping[str, Any]
) -> ManagementCall:
    """Build the DBOS request of one management ``ExecutorRequest``.

    Args:
        kind: a kind of ``MANAGEMENT_KINDS``.
        workflow_id: the request's workflow (empty for app-wide kinds).
        params: the request's ``params`` (see the table in ``docs/management-design.md``).

    Returns:
        The request to send and what ``read_result`` needs.

    Raises:
        RecordError: ``kind`` is not a management kind, or a param is missing, of the wrong type
            or out of range (the message names it).
    """
    builder = _BUILDERS.get(kind)
    if builder is None:
        raise RecordError(f"{kind.value} is not a management request")
    try:
        return builder(kind, workflow_id, Fields(params))
    except KeyError as exc:
        raise RecordError(f"invalid params for {kind.value}: {exc.args[0]} is required") from exc
    except (TypeError, ValueError) as exc:
        raise RecordError(f"invalid params for {kind.value}: {exc}") from exc


def read_result(call: ManagementCall, reply: Reply) -> dict[str, Any]:
    """The ``ExecutorReply.result`` of the executor's reply to ``call``.

    Raises:
        ExecutorFailed: the executor answered with an error or ``success: false``, answered
            without the result, or the result would not fit in a Kafka record.
    """
    replies.check(call.request.type, reply)
    verb = call.request.type.value
    result = _READERS[call.kind](call, reply.data)
    size = len(orjson.dumps(result))
    if size > MAX_RESULT_BYTES:
        raise ExecutorFailed(
            f"the {verb} result is {size} bytes, over the {MAX_RESULT_BYTES} limit of a Kafka"
            " record"
        )
    return result


def failure_of(exc: ConductorError) -> ReplyFailure:
    """The ``ReplyFailure`` of a request that raised ``exc`` (anything else: the gateway's)."""
    match exc:
        case SessionClosed():
            return ReplyFailure.DISCONNECTED
        case RequestTimeout():
            return ReplyFailure.TIMEOUT
        case VerbUnsupported():
            return ReplyFailure.UNSUPPORTED
        case DataRefused():
            return ReplyFailure.METADATA_ONLY
        case ExecutorFailed():
            return ReplyFailure.EXECUTOR_ERROR
        case _:
            return ReplyFailure.GATEWAY_ERROR


# -- requests ------------------------------------------------------------------------------------

_Builder = Callable[[RequestKind, str, Fields], ManagementCall]


def _call(kind: RequestKind, type_: MessageType, **fields: Any) -> ManagementCall:
    return ManagementCall(kind=kind, request=Request(type=type_, fields=fields))


def _targets(workflow_id: str, f: Fields) -> tuple[str, ...]:
    """``workflow_ids`` when given, else the request's own workflow."""
    if f.opt_value("workflow_ids") is None:
        if not workflow_id:
            raise ValueError("workflow_ids is required when the request names no workflow")
        return (workflow_id,)
    return _ids(f, "workflow_ids")


def _ids(f: Fields, name: str) -> tuple[str, ...]:
    ids = f.texts(name)
    if not ids or not all(ids):
        raise ValueError(f"{name} must name at least one workflow, with no empty id")
    if len(ids) > MAX_BATCH_IDS:
        raise ValueError(f"{name} names {len(ids)} workflows, over the limit of {MAX_BATCH_IDS}")
    return tuple(ids)


def _workflow(workflow_id: str) -> str:
    if not workflow_id:
        raise ValueError("the request names no workflow (workflow_id is empty)")
    return workflow_id


def _name(f: Fields, name: str) -> str:
    value = f.text(name)
    if not value:
        raise ValueError(f"{name} must not be empty")
    return value


def _instant(f: Fields, name: str) -> str:
    """An ISO 8601 instant, as DBOS reads it (``datetime.fromisoformat``)."""
    value = f.text(name)
    try:
        datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{name} must be an ISO 8601 date and time") from exc
    return value


def _bulk_fields(ids: tuple[str, ...]) -> dict[str, Any]:
    """DBOS acts on ``workflow_ids or [workflow_id]``: one workflow is sent as ``workflow_id``
    alone, which every DBOS version reads; several also as ``workflow_ids`` (with the first one as
    the ``workflow_id`` the request requires)."""
    if len(ids) == 1:
        return {"workflow_id": ids[0]}
    return {"workflow_id": ids[0], "workflow_ids": list(ids)}


def _cancel(kind: RequestKind, workflow_id: str, f: Fields) -> ManagementCall:
    """DBOS conductor ``cancel`` verb (``CancelRequest``)."""
    ids = _targets(workflow_id, f)
    fields = {**_bulk_fields(ids), "cancel_children": f.opt_flag("cancel_children")}
    request = Request(type=MessageType.CANCEL, fields=fields)
    return ManagementCall(kind=kind, request=request, workflow_ids=ids)


def _resume(kind: RequestKind, workflow_id: str, f: Fields) -> ManagementCall:
    """DBOS conductor ``resume`` verb (``ResumeRequest``)."""
    ids = _targets(workflow_id, f)
    fields = {**_bulk_fields(ids), "queue_name": f.opt_text("queue_name")}
    request = Request(type=MessageType.RESUME, fields=fields)
    return ManagementCall(kind=kind, request=request, workflow_ids=ids)


def _delete(kind: RequestKind, workflow_id: str, f: Fields) -> ManagementCall:
    """DBOS conductor ``delete`` verb (``DeleteRequest``: ``delete_children`` is required)."""
    ids = _targets(workflow_id, f)
    fields = {**_bulk_fields(ids), "delete_children": f.opt_flag("delete_children")}
    request = Request(type=MessageType.DELETE, fields=fields)
    return ManagementCall(kind=kind, request=request, workflow_ids=ids)


def _fork(kind: RequestKind, workflow_id: str, f: Fields) -> ManagementCall:
    """DBOS conductor ``fork_workflow`` verb (``ForkWorkflowBody``: DBOS reads every key)."""
    start_step = f.integer("start_step")
    # DBOS counts a workflow's steps from 1 in Python and from 0 in TypeScript: 0 is a real step.
    if start_step < 0:
        raise ValueError("start_step must be at least 0")
    body = {
        "workflow_id": _workflow(workflow_id),
        "start_step": start_step,
        "application_version": f.opt_text("application_version"),
        "new_workflow_id": _name(f, "new_workflow_id"),
        "queue_name": f.opt_text("queue_name"),
        "queue_partition_key": None,
    }
    return _call(kind, MessageType.FORK_WORKFLOW, body=body)


def _rewind(kind: RequestKind, workflow_id: str, f: Fields) -> ManagementCall:
    """DBOS conductor ``rewind_workflow`` verb (``RewindWorkflowBody``, every key optional but the
    workflow): re-run a finished workflow from ``start_step``, keeping its id. Omitted, the
    client's own first step (Python 1, TypeScript and Go 0)."""
    start_step = f.opt_integer("start_step")
    if start_step is not None and start_step < 0:
        raise ValueError("start_step must be at least 0")
    body = {
        "workflow_id": _workflow(workflow_id),
        "start_step": start_step,
        "application_version": f.opt_text("application_version"),
        "queue_name": f.opt_text("queue_name"),
        "queue_partition_key": None,
    }
    return _call(kind, MessageType.REWIND_WORKFLOW, body=body)


def _fork_from_failure(kind: RequestKind, workflow_id: str, f: Fields) -> ManagementCall:
    """DBOS conductor ``fork_from_failure`` verb: each workflow from its last failed step (DBOS
    needs exactly one of its ``from_*`` modes)."""
    body = {
        "workflow_ids": list(_ids(f, "workflow_ids")),
        "application_version": f.opt_text("application_version"),
        "queue_name": f.opt_text("queue_name"),
        "from_last_failure": True,
    }
    return _call(kind, MessageType.FORK_FROM_FAILURE, body=body)


def _list_schedules(kind: RequestKind, workflow_id: str, f: Fields) -> ManagementCall:
    """DBOS conductor ``list_schedules`` verb, every schedule, without contexts (not reported)."""
    return _call(kind, MessageType.LIST_SCHEDULES, body={"load_context": False})


def _pause_schedule(kind: RequestKind, workflow_id: str, f: Fields) -> ManagementCall:
    return _call(kind, MessageType.PAUSE_SCHEDULE, schedule_name=_name(f, "schedule_name"))


def _resume_schedule(kind: RequestKind, workflow_id: str, f: Fields) -> ManagementCall:
    return _call(kind, MessageType.RESUME_SCHEDULE, schedule_name=_name(f, "schedule_name"))


def _trigger_schedule(kind: RequestKind, workflow_id: str, f: Fields) -> ManagementCall:
    return _call(kind, MessageType.TRIGGER_SCHEDULE, schedule_name=_name(f, "schedule_name"))


def _backfill_schedule(kind: RequestKind, workflow_id: str, f: Fields) -> ManagementCall:
    return _call(
        kind,
        MessageType.BACKFILL_SCHEDULE,
        schedule_name=_name(f, "schedule_name"),
        start=_instant(f, "start"),
        end=_instant(f, "end"),
    )


def _list_versions(kind: RequestKind, workflow_id: str, f: Fields) -> ManagementCall:
    return _call(kind, MessageType.LIST_APPLICATION_VERSIONS)


def _set_latest_version(kind: RequestKind, workflow_id: str, f: Fields) -> ManagementCall:
    return _call(
        kind, MessageType.SET_LATEST_APPLICATION_VERSION, version_name=_name(f, "version_name")
    )


def _export(kind: RequestKind, workflow_id: str, f: Fields) -> ManagementCall:
    return _call(
        kind,
        MessageType.EXPORT_WORKFLOW,
        workflow_id=_workflow(workflow_id),
        export_children=f.opt_flag("export_children"),
    )


def _import(kind: RequestKind, workflow_id: str, f: Fields) -> ManagementCall:
    serialized = _name(f, "serialized_workflow")
    return _call(kind, MessageType.IMPORT_WORKFLOW, serialized_workflow=serialized)


def _events(kind: RequestKind, workflow_id: str, f: Fields) -> ManagementCall:
    return _call(kind, MessageType.GET_WORKFLOW_EVENTS, workflow_id=_workflow(workflow_id))


def _notifications(kind: RequestKind, workflow_id: str, f: Fields) -> ManagementCall:
    return _call(kind, MessageType.GET_WORKFLOW_NOTIFICATIONS, workflow_id=_workflow(workflow_id))


def _streams(kind: RequestKind, workflow_id: str, f: Fields) -> ManagementCall:
    return _call(kind, MessageType.GET_WORKFLOW_STREAMS, workflow_id=_workflow(workflow_id))


_BUILDERS: dict[RequestKind, _Builder] = {
    RequestKind.CANCEL: _cancel,
    RequestKind.RESUME: _resume,
    RequestKind.FORK: _fork,
    RequestKind.DELETE: _delete,
    RequestKind.FORK_FROM_FAILURE: _fork_from_failure,
    RequestKind.REWIND: _rewind,
    RequestKind.LIST_SCHEDULES: _list_schedules,
    RequestKind.PAUSE_SCHEDULE: _pause_schedule,
    RequestKind.RESUME_SCHEDULE: _resume_schedule,
    RequestKind.TRIGGER_SCHEDULE: _trigger_schedule,
    RequestKind.BACKFILL_SCHEDULE: _backfill_schedule,
    RequestKind.LIST_VERSIONS: _list_versions,
    RequestKind.SET_LATEST_VERSION: _set_latest_version,
    RequestKind.EXPORT_WORKFLOW: _export,
    RequestKind.IMPORT_WORKFLOW: _import,
    RequestKind.GET_EVENTS: _events,
    RequestKind.GET_NOTIFICATIONS: _notifications,
    RequestKind.GET_STREAMS: _streams,
}


# -- replies -------------------------------------------------------------------------------------

_Reader = Callable[[ManagementCall, Mapping[str, Any]], dict[str, Any]]


def _list(call: ManagementCall, data: Mapping[str, Any], name: str) -> list[Any]:
    """The list ``name`` of a reply, cut to ``MAX_RESULT_ITEMS``; DBOS always sends it."""
    value = data.get(name)
    if not isinstance(value, list):
        raise ExecutorFailed(f"{call.request.type.value} answered without {name}")
    return value[:MAX_RESULT_ITEMS]


def _objects(call: ManagementCall, data: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    return [item for item in _list(call, data, name) if isinstance(item, Mapping)]


def _id_list(call: ManagementCall, data: Mapping[str, Any], name: str) -> list[str]:
    return [
        i for i in (replies.workflow_id(item) for item in _list(call, data, name)) if i is not None
    ]


def _acted_on(call: ManagementCall, data: Mapping[str, Any]) -> dict[str, Any]:
    """``cancel``/``resume``/``delete``: DBOS says only ``success`` (checked already)."""
    _confirmed(call, data)
    return {"workflow_ids": list(call.workflow_ids)}


def _done(call: ManagementCall, data: Mapping[str, Any]) -> dict[str, Any]:
    _confirmed(call, data)
    return {}


def _confirmed(call: ManagementCall, data: Mapping[str, Any]) -> None:
    if data.get("success") is not True:
        raise ExecutorFailed(f"{call.request.type.value} answered without success=true")


def _forked(call: ManagementCall, data: Mapping[str, Any]) -> dict[str, Any]:
    new_id = replies.workflow_id(data.get("new_workflow_id"))
    if new_id is None:
        raise ExecutorFailed("fork_workflow answered without a new_workflow_id")
    return {"new_workflow_id": new_id}


def _forked_many(call: ManagementCall, data: Mapping[str, Any]) -> dict[str, Any]:
    return {"forked_workflow_ids": _id_list(call, data, "forked_workflow_ids")}


def _schedules(call: ManagementCall, data: Mapping[str, Any]) -> dict[str, Any]:
    """``ScheduleOutput`` items, without their context and application name."""
    names = (
        "schedule_id",
        "schedule_name",
        "workflow_name",
        "workflow_class_name",
        "schedule",
        "status",
        "last_fired_at",
        "cron_timezone",
        "queue_name",
    )
    return {
        "schedules": [
            {
                **{name: replies.text(item.get(name), TEXT) for name in names},
                "automatic_backfill": replies.flag(item.get("automatic_backfill")),
            }
            for item in _objects(call, data, "output")
        ]
    }


def _triggered(call: ManagementCall, data: Mapping[str, Any]) -> dict[str, Any]:
    return {"workflow_id": replies.workflow_id(data.get("workflow_id"))}


def _backfilled(call: ManagementCall, data: Mapping[str, Any]) -> dict[str, Any]:
    return {"workflow_ids": _id_list(call, data, "workflow_ids")}


def _versions(call: ManagementCall, data: Mapping[str, Any]) -> dict[str, Any]:
    """``ApplicationVersionOutput`` items (epoch-ms timestamps)."""
    return {
        "versions": [
            {
                "version_id": replies.text(item.get("version_id"), TEXT),
                "version_name": replies.text(item.get("version_name"), TEXT),
                "version_timestamp": replies.integer(item.get("version_timestamp")),
                "created_at": replies.integer(item.get("created_at")),
            }
            for item in _objects(call, data, "output")
        ]
    }


def _exported(call: ManagementCall, data: Mapping[str, Any]) -> dict[str, Any]:
    """DBOS's export (base64 of a gzipped pickle): whole or not at all (a cut one is useless)."""
    serialized = data.get("serialized_workflow")
    if not isinstance(serialized, str) or not serialized:
        raise ExecutorFailed("export_workflow answered without a serialized_workflow")
    if len(serialized) > MAX_EXPORT_CHARS:
        raise ExecutorFailed(
            f"the exported workflow is {len(serialized)} characters, over the"
            f" {MAX_EXPORT_CHARS} limit of a Kafka record; export it without children, or"
            " from the system database directly"
        )
    return {"serialized_workflow": serialized}


def _events_of(call: ManagementCall, data: Mapping[str, Any]) -> dict[str, Any]:
    """``EventOutput`` items (DBOS sends each value as ``str(value)``)."""
    return {
        "events": [
            {
                "key": replies.text(item.get("key"), TEXT),
                "value": replies.text(item.get("value"), PAYLOAD),
            }
            for item in _objects(call, data, "events")
        ]
    }


def _notifications_of(call: ManagementCall, data: Mapping[str, Any]) -> dict[str, Any]:
    """``NotificationOutput`` items."""
    return {
        "notifications": [
            {
                "topic": replies.text(item.get("topic"), TEXT),
                "message": replies.text(item.get("message"), PAYLOAD),
                "created_at_ms": replies.integer(item.get("created_at_epoch_ms")),
                "consumed": replies.flag(item.get("consumed")),
            }
            for item in _objects(call, data, "notifications")
        ]
    }


def _streams_of(call: ManagementCall, data: Mapping[str, Any]) -> dict[str, Any]:
    """``StreamEntryOutput`` items, each with at most ``MAX_RESULT_ITEMS`` values."""
    streams = []
    for item in _objects(call, data, "streams"):
        values = item.get("values")
        values = values[:MAX_RESULT_ITEMS] if isinstance(values, list) else []
        streams.append(
            {
                "key": replies.text(item.get("key"), TEXT),
                "values": [replies.text(v, PAYLOAD) for v in values if isinstance(v, str)],
            }
        )
    return {"streams": streams}


_READERS: dict[RequestKind, _Reader] = {
    RequestKind.CANCEL: _acted_on,
    RequestKind.RESUME: _acted_on,
    RequestKind.FORK: _forked,
    RequestKind.DELETE: _acted_on,
    RequestKind.FORK_FROM_FAILURE: _forked_many,
    RequestKind.REWIND: _done,
    RequestKind.LIST_SCHEDULES: _schedules,
    RequestKind.PAUSE_SCHEDULE: _done,
    RequestKind.RESUME_SCHEDULE: _done,
    RequestKind.TRIGGER_SCHEDULE: _triggered,
    RequestKind.BACKFILL_SCHEDULE: _backfilled,
    RequestKind.LIST_VERSIONS: _versions,
    RequestKind.SET_LATEST_VERSION: _done,
    RequestKind.EXPORT_WORKFLOW: _exported,
    RequestKind.IMPORT_WORKFLOW: _done,
    RequestKind.GET_EVENTS: _events_of,
    RequestKind.GET_NOTIFICATIONS: _notifications_of,
    RequestKind.GET_STREAMS: _streams_of,
}
