"""The codec of Baton's records: JSON (orjson) with a ``type`` discriminator, and Kafka keys.

Decoding ignores unknown fields, bounds untrusted text (``streams.bounds``) and raises only
``RecordError``. Most decoders are written out; ``WorkflowStatus``'s (some thirty fields) is derived
from the record's fields, their types and their declared bounds (``_fields_reader``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import Field, fields
from typing import TYPE_CHECKING, Any, TypeVar, get_type_hints

import orjson

from streams.bounds import MAX_PAYLOAD_CHARS, MAX_STEPS, bound_of, bound_text
from streams.exceptions import RecordError
from streams.fields import Fields
from streams.ids import AppName, CommandId, ConnId, ExecutorId, GatewayId, RequestId, WorkflowId
from streams.records import (
    ActionOutcome,
    CaptureCursor,
    CommandProgress,
    CommandStatus,
    ExecutorConnected,
    ExecutorDisconnected,
    ExecutorInfo,
    ExecutorReply,
    ExecutorRequest,
    GatewayHeartbeat,
    ListSessions,
    OperatorAction,
    PollResult,
    PollWorkflows,
    Record,
    RecordType,
    RecoverExecutor,
    RecoveryDecision,
    RecoveryStep,
    ReplyFailure,
    RequestKind,
    SessionInfo,
    StepInfo,
    WorkflowDeleted,
    WorkflowStatus,
    WorkflowSteps,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_R = TypeVar("_R", bound="DataclassInstance")


def workflow_key(app: str, workflow_id: str) -> bytes:
    """The Kafka key (and table key) of one workflow: ``{app}/{workflow_id}``.

    App names never hold a ``/`` (they are one URL path segment).
    """
    return f"{app}/{workflow_id}".encode()


def record_key(record: Record) -> bytes:
    """The Kafka key of a record: its app; commands their target executor (a listing request
    its app); workflow events their workflow; replies their request."""
    match record:
        case RecoverExecutor() | PollWorkflows() | ExecutorRequest():
            return record.target.encode()
        case WorkflowStatus() | WorkflowSteps() | WorkflowDeleted():
            return workflow_key(record.app, record.workflow_id)
        case ExecutorReply():
            return record.request_id.encode()
        case _:
            return record.app.encode()


def encode(record: Record) -> bytes:
    """Serialise a record to JSON bytes with its ``type`` first.

    orjson serialises the dataclass (its ``type`` is a ClassVar, so not a field); the type is
    spliced in front rather than round-tripping through a dict: heartbeats are encoded often.
    """
    if isinstance(record, GatewayHeartbeat) and not record.listed:
        body = _beat_body(record)
    else:
        body = orjson.dumps(record)  # every record has fields: body is '{"...'
    return b'{"type":"' + record.type.value.encode() + b'",' + body[1:]


def _beat_body(beat: GatewayHeartbeat) -> bytes:
    """A beat that lists nothing, without its listing's empty fields: the embedded broker keeps
    every beat (issue 12), and the reader takes absent fields as ``None``."""
    return orjson.dumps(
        {
            "app": beat.app,
            "gateway": beat.gateway,
            "sessions": (),
            "ts_ms": beat.ts_ms,
            "listed": False,
            "session_count": beat.session_count,
            "digest": beat.digest,
        }
    )


_TYPE_PREFIX = b'{"type":"'
_LONGEST_TYPE = max(len(t.value) for t in RecordType)


def peek_type(raw: bytes) -> RecordType | None:
    """The type of a record as ``encode`` wrote it (``type`` first), without parsing the rest:
    for a consumer that skips most types (a heartbeat holds every session of its app). ``None``
    when ``raw`` does not start that way (another writer, or not a record): decode it to know.
    """
    if not raw.startswith(_TYPE_PREFIX):
        return None
    end = raw.find(b'"', len(_TYPE_PREFIX), len(_TYPE_PREFIX) + _LONGEST_TYPE + 1)
    if end < 0:
        return None
    try:
        return RecordType(raw[len(_TYPE_PREFIX) : end].decode())
    except (UnicodeDecodeError, ValueError):
        return None


def decode(raw: bytes | str) -> Record:
    """Parse a record; raises ``RecordError`` (and nothing else) on anything malformed."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise RecordError("a record is a JSON object")
    try:
        kind = RecordType(str(data.get("type")))
    except ValueError as exc:
        raise RecordError(f"unknown record type {data.get('type')!r}") from exc
    try:
        record: Record = _DECODERS[kind](Fields(data))
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordError(f"malformed {kind.value} record: {exc!r}") from exc
    return record


def _executor_info(f: Fields) -> ExecutorInfo:
    return ExecutorInfo(
        executor_id=ExecutorId(f.text("executor_id")),
        application_version=f.text("application_version"),
        hostname=f.opt_text("hostname"),
        language=f.opt_text("language"),
        dbos_version=f.opt_text("dbos_version"),
        metadata=f.opt_mapping("metadata"),
    )


def _session(f: Fields) -> SessionInfo:
    return SessionInfo(
        info=_executor_info(f.obj("info")),
        conn_id=ConnId(f.text("conn_id")),
        connected_at_ms=f.integer("connected_at_ms"),
    )


def _connected(f: Fields) -> ExecutorConnected:
    return ExecutorConnected(
        app=AppName(f.text("app")),
        gateway=GatewayId(f.text("gateway")),
        session=_session(f.obj("session")),
        ts_ms=f.integer("ts_ms"),
    )


def _disconnected(f: Fields) -> ExecutorDisconnected:
    return ExecutorDisconnected(
        app=AppName(f.text("app")),
        gateway=GatewayId(f.text("gateway")),
        executor_id=ExecutorId(f.text("executor_id")),
        conn_id=ConnId(f.text("conn_id")),
        close_code=f.opt_integer("close_code"),
        close_reason=f.text("close_reason"),
        draining=f.flag("draining"),
        ts_ms=f.integer("ts_ms"),
        revoked=f.opt_flag("revoked"),
    )


def _heartbeat(f: Fields) -> GatewayHeartbeat:
    return GatewayHeartbeat(
        app=AppName(f.text("app")),
        gateway=GatewayId(f.text("gateway")),
        sessions=tuple(_session(s) for s in f.objs("sessions")),
        ts_ms=f.integer("ts_ms"),
        listed=f.opt_value("listed") is not False,  # absent in an older gateway's: it lists all
        listed_after=_opt_executor(f.opt_text("listed_after")),
        listed_through=_opt_executor(f.opt_text("listed_through")),
        session_count=f.opt_integer("session_count"),
        digest=f.opt_text("digest"),
    )


def _opt_executor(text: str | None) -> ExecutorId | None:
    return None if text is None else ExecutorId(text)


def _progress(f: Fields) -> CommandProgress:
    return CommandProgress(
        app=AppName(f.text("app")),
        command_id=CommandId(f.text("command_id")),
        gateway=GatewayId(f.text("gateway")),
        executor_id=ExecutorId(f.text("executor_id")),
        status=CommandStatus(f.text("status")),
        error=bound_text(f.opt_text("error")),
        ts_ms=f.integer("ts_ms"),
    )


def _recover(f: Fields) -> RecoverExecutor:
    gateway = f.opt_text("target_gateway")
    return RecoverExecutor(
        command_id=CommandId(f.text("command_id")),
        app=AppName(f.text("app")),
        target=ExecutorId(f.text("target")),
        target_gateway=None if gateway is None else GatewayId(gateway),
        dead_executor_id=ExecutorId(f.text("dead_executor_id")),
        issued_at_ms=f.integer("issued_at_ms"),
        timeout_ms=f.integer("timeout_ms"),
    )


def _list_sessions(f: Fields) -> ListSessions:
    return ListSessions(
        command_id=CommandId(f.text("command_id")),
        app=AppName(f.text("app")),
        gateway=GatewayId(f.text("gateway")),
        issued_at_ms=f.integer("issued_at_ms"),
    )


def _decision(f: Fields) -> RecoveryDecision:
    target = f.opt_text("target")
    command_id = f.opt_text("command_id")
    return RecoveryDecision(
        app=AppName(f.text("app")),
        dead_executor_id=ExecutorId(f.text("dead_executor_id")),
        application_version=f.text("application_version"),
        step=RecoveryStep(f.text("step")),
        reason=f.text("reason"),
        ts_ms=f.integer("ts_ms"),
        attempt=f.opt_integer("attempt") or 0,
        target=None if target is None else ExecutorId(target),
        command_id=None if command_id is None else CommandId(command_id),
    )


_READ_AS: dict[object, Callable[[Fields, str], Any]] = {
    AppName: Fields.text,
    WorkflowId: Fields.text,
    str: Fields.text,
    int: Fields.integer,
    bool: Fields.flag,
    str | None: Fields.opt_text,
    int | None: Fields.opt_integer,
}
"""How a record field of each type is read from JSON."""


def _field_reader(field: Field[Any], kind: object) -> Callable[[Fields, str], Any]:
    if kind is bool and field.default is False:
        return Fields.opt_flag  # absent reads as the default
    return _READ_AS[kind]


def _fields_reader(cls: type[_R]) -> Callable[[Fields], _R]:
    """A decoder of a flat record, derived from its fields: each read as its type says
    (``_READ_AS``) and bounded as it declares (``streams.bounds.bound_of``)."""
    hints = get_type_hints(cls)
    plan = [(f.name, _field_reader(f, hints[f.name]), bound_of(f)) for f in fields(cls)]

    def read(f: Fields) -> _R:
        values: dict[str, Any] = {}
        for name, read_value, bound in plan:
            value = read_value(f, name)
            values[name] = value if bound is None else bound.apply(value)
        return cls(**values)

    return read


_workflow_status = _fields_reader(WorkflowStatus)


def _step(f: Fields) -> StepInfo:
    return StepInfo(
        function_id=f.integer("function_id"),
        function_name=f.text("function_name"),
        output=bound_text(f.opt_text("output"), MAX_PAYLOAD_CHARS),
        error=bound_text(f.opt_text("error")),
        child_workflow_id=f.opt_text("child_workflow_id"),
        started_at_ms=f.opt_integer("started_at_ms"),
        completed_at_ms=f.opt_integer("completed_at_ms"),
    )


def _steps(f: Fields) -> WorkflowSteps:
    return WorkflowSteps(
        app=AppName(f.text("app")),
        workflow_id=WorkflowId(f.text("workflow_id")),
        steps=tuple(_step(s) for s in f.objs("steps")[:MAX_STEPS]),
        observed_at_ms=f.integer("observed_at_ms"),
    )


def _cursor(f: Fields) -> CaptureCursor:
    return CaptureCursor(
        created_from_ms=f.integer("created_from_ms"),
        created_skip=f.integer("created_skip"),
        completed_from_ms=f.integer("completed_from_ms"),
        completed_span_ms=f.opt_integer("completed_span_ms") or 0,
        active_offset=f.opt_integer("active_offset") or 0,
    )


def _poll(f: Fields) -> PollWorkflows:
    gateway = f.opt_text("target_gateway")
    return PollWorkflows(
        command_id=CommandId(f.text("command_id")),
        app=AppName(f.text("app")),
        target=ExecutorId(f.text("target")),
        target_gateway=None if gateway is None else GatewayId(gateway),
        cursor=_cursor(f.obj("cursor")),
        page_size=f.integer("page_size"),
        max_pages=f.integer("max_pages"),
        check_active=f.flag("check_active"),
        steps_budget=f.integer("steps_budget"),
        issued_at_ms=f.integer("issued_at_ms"),
        timeout_ms=f.integer("timeout_ms"),
        recheck_created=f.opt_flag("recheck_created"),
        payloads_private=f.opt_flag("payloads_private"),
    )


def _poll_result(f: Fields) -> PollResult:
    return PollResult(
        command_id=CommandId(f.text("command_id")),
        app=AppName(f.text("app")),
        gateway=GatewayId(f.text("gateway")),
        executor_id=ExecutorId(f.text("executor_id")),
        ok=f.flag("ok"),
        cursor=_cursor(f.obj("cursor")),
        workflows_seen=f.integer("workflows_seen"),
        requests=f.integer("requests"),
        more=f.flag("more"),
        active_seen=f.flag("active_seen"),
        ts_ms=f.integer("ts_ms"),
        error=bound_text(f.opt_text("error")),
    )


def _request(f: Fields) -> ExecutorRequest:
    gateway = f.opt_text("target_gateway")
    return ExecutorRequest(
        request_id=RequestId(f.text("request_id")),
        app=AppName(f.text("app")),
        target=ExecutorId(f.text("target")),
        target_gateway=None if gateway is None else GatewayId(gateway),
        kind=RequestKind(f.text("kind")),
        workflow_id=WorkflowId(f.text("workflow_id")),
        issued_at_ms=f.integer("issued_at_ms"),
        timeout_ms=f.integer("timeout_ms"),
        params=f.opt_mapping("params") or {},
        payloads_private=f.opt_flag("payloads_private"),
    )


def _reply(f: Fields) -> ExecutorReply:
    workflow = f.opt_obj("workflow")
    steps = f.opt_objs("steps")
    failure = f.opt_text("failure")
    return ExecutorReply(
        request_id=RequestId(f.text("request_id")),
        app=AppName(f.text("app")),
        executor_id=ExecutorId(f.text("executor_id")),
        gateway=GatewayId(f.text("gateway")),
        ok=f.flag("ok"),
        ts_ms=f.integer("ts_ms"),
        error=bound_text(f.opt_text("error")),
        workflow=None if workflow is None else _workflow_status(workflow),
        steps=None if steps is None else tuple(_step(s) for s in steps[:MAX_STEPS]),
        failure=None if failure is None else ReplyFailure(failure),
        result=f.opt_value("result"),
    )


def _workflow_deleted(f: Fields) -> WorkflowDeleted:
    return WorkflowDeleted(
        app=AppName(f.text("app")),
        workflow_id=WorkflowId(f.text("workflow_id")),
        with_children=f.flag("with_children"),
        deleted_at_ms=f.integer("deleted_at_ms"),
    )


def _operator_action(f: Fields) -> OperatorAction:
    executor_id = f.opt_text("executor_id")
    return OperatorAction(
        action_id=f.text("action_id"),
        app=AppName(f.text("app")),
        actor=f.text("actor"),
        action=f.text("action"),
        target=f.text("target"),
        params=f.opt_mapping("params") or {},
        outcome=ActionOutcome(f.text("outcome")),
        requested_at_ms=f.integer("requested_at_ms"),
        finished_at_ms=f.integer("finished_at_ms"),
        error=bound_text(f.opt_text("error")),
        result=f.opt_mapping("result"),
        executor_id=None if executor_id is None else ExecutorId(executor_id),
    )


_DECODERS: dict[RecordType, Any] = {
    RecordType.EXECUTOR_CONNECTED: _connected,
    RecordType.EXECUTOR_DISCONNECTED: _disconnected,
    RecordType.GATEWAY_HEARTBEAT: _heartbeat,
    RecordType.COMMAND_PROGRESS: _progress,
    RecordType.RECOVER_EXECUTOR: _recover,
    RecordType.LIST_SESSIONS: _list_sessions,
    RecordType.RECOVERY_DECISION: _decision,
    RecordType.WORKFLOW_STATUS: _workflow_status,
    RecordType.WORKFLOW_STEPS: _steps,
    RecordType.POLL_WORKFLOWS: _poll,
    RecordType.POLL_RESULT: _poll_result,
    RecordType.EXECUTOR_REQUEST: _request,
    RecordType.EXECUTOR_REPLY: _reply,
    RecordType.OPERATOR_ACTION: _operator_action,
    RecordType.WORKFLOW_DELETED: _workflow_deleted,
}
