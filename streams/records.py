"""Baton's own Kafka records: executor events, commands and audit records, and their codec.

The one home of this contract: the gateway, the Faust agents, the recovery agent and the console
all import it. Pure: no Kafka, Faust, asyncio or clock here. Encoding is JSON (orjson) with a
``type`` discriminator; decoding ignores unknown fields and raises only ``RecordError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, NewType

import orjson

from streams.exceptions import RecordError
from streams.fields import Fields

AppName = NewType("AppName", str)
ExecutorId = NewType("ExecutorId", str)
GatewayId = NewType("GatewayId", str)
ConnId = NewType("ConnId", str)
CommandId = NewType("CommandId", str)
WorkflowId = NewType("WorkflowId", str)
RequestId = NewType("RequestId", str)

MAX_TEXT_CHARS = 4096
"""Executor-supplied text (errors, tracebacks) is cut to this many characters."""

MAX_PAYLOAD_CHARS = 65_536
"""Workflow inputs and outputs and step outputs (as DBOS serialised them) are cut to this length."""

MAX_STEPS = 1_000
"""At most this many steps of one workflow are captured (DBOS ``list_steps`` limit)."""


def bound_text(text: str | None, limit: int = MAX_TEXT_CHARS) -> str | None:
    """Cut untrusted text to at most ``limit`` characters, saying at the cut how much went.

    Idempotent: a text already cut is at most ``limit`` long, so it passes unchanged (records are
    bounded where they are read, then decoded again by every consumer).
    """
    if text is None or len(text) <= limit:
        return text
    # The marker's length depends on the count it prints; size it for the largest count.
    keep = max(0, limit - len(f"... [{len(text)} more characters cut]"))
    return text[:keep] + f"... [{len(text) - keep} more characters cut]"


class RecordType(StrEnum):
    EXECUTOR_CONNECTED = "executor_connected"
    EXECUTOR_DISCONNECTED = "executor_disconnected"
    GATEWAY_HEARTBEAT = "gateway_heartbeat"
    COMMAND_PROGRESS = "command_progress"
    RECOVER_EXECUTOR = "recover_executor"
    RECOVERY_DECISION = "recovery_decision"
    WORKFLOW_STATUS = "workflow_status"
    WORKFLOW_STEPS = "workflow_steps"
    POLL_WORKFLOWS = "poll_workflows"
    POLL_RESULT = "poll_result"
    EXECUTOR_REQUEST = "executor_request"
    EXECUTOR_REPLY = "executor_reply"
    OPERATOR_ACTION = "operator_action"
    WORKFLOW_DELETED = "workflow_deleted"


class WorkflowState(StrEnum):
    """DBOS workflow statuses (``WorkflowStatusString``); unknown ones are kept as text."""

    PENDING = "PENDING"
    ENQUEUED = "ENQUEUED"
    DELAYED = "DELAYED"
    SUCCESS = "SUCCESS"
    ERROR = "ERROR"
    CANCELLED = "CANCELLED"
    MAX_RECOVERY_ATTEMPTS_EXCEEDED = "MAX_RECOVERY_ATTEMPTS_EXCEEDED"


ACTIVE_STATES: tuple[str, ...] = (
    WorkflowState.PENDING,
    WorkflowState.ENQUEUED,
    WorkflowState.DELAYED,
)
"""Statuses that can still change without the workflow completing."""


class RequestKind(StrEnum):
    """What the console may ask one executor through a gateway (DBOS conductor verbs).

    ``ExecutorRequest.params`` carries each kind's arguments; ``ExecutorReply.result`` its answer
    (see ``gateway.management`` for both shapes).
    """

    GET_WORKFLOW = "get_workflow"
    LIST_STEPS = "list_steps"
    # Actions on workflows (``workflow_ids`` in params acts on several at once).
    CANCEL = "cancel"
    RESUME = "resume"
    FORK = "fork"
    DELETE = "delete"
    FORK_FROM_FAILURE = "fork_from_failure"
    # Schedules, application versions, export/import.
    LIST_SCHEDULES = "list_schedules"
    PAUSE_SCHEDULE = "pause_schedule"
    RESUME_SCHEDULE = "resume_schedule"
    TRIGGER_SCHEDULE = "trigger_schedule"
    BACKFILL_SCHEDULE = "backfill_schedule"
    LIST_VERSIONS = "list_application_versions"
    SET_LATEST_VERSION = "set_latest_application_version"
    EXPORT_WORKFLOW = "export_workflow"
    IMPORT_WORKFLOW = "import_workflow"
    # A workflow's communication, read live.
    GET_EVENTS = "get_workflow_events"
    GET_NOTIFICATIONS = "get_workflow_notifications"
    GET_STREAMS = "get_workflow_streams"


class ReplyFailure(StrEnum):
    """Why an ``ExecutorReply`` is not ok; the console retries the first two on another executor."""

    NOT_CONNECTED = "not_connected"
    """The target is not connected to the pod that was asked: the request never reached it."""
    DISCONNECTED = "disconnected"
    """The target's session closed while the request was in flight: it may or may not have acted."""
    TIMEOUT = "timeout"
    EXECUTOR_ERROR = "executor_error"
    """The executor answered with an error (its text, bounded, is in ``error``)."""
    GATEWAY_ERROR = "gateway_error"


class ActionOutcome(StrEnum):
    """How an operator's action ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    """It reached an executor (or may have) and did not succeed."""
    REJECTED = "rejected"
    """Refused before any executor was asked (no suitable executor connected, bad input)."""


class CommandStatus(StrEnum):
    SENT = "sent"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RecoveryStep(StrEnum):
    DECLARED_DEAD = "declared_dead"
    TARGET_CHOSEN = "target_chosen"
    SENT = "sent"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STRANDED = "stranded"
    ABANDONED = "abandoned"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutorInfo:
    """What an executor says about itself (DBOS ``executor_info`` reply)."""

    executor_id: ExecutorId
    application_version: str
    hostname: str | None = None
    language: str | None = None
    dbos_version: str | None = None
    metadata: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionInfo:
    """One live session as a gateway pod sees it: the unit of heartbeats and snapshots."""

    info: ExecutorInfo
    conn_id: ConnId
    connected_at_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutorConnected:
    """An executor completed the handshake (key accepted, ``executor_info`` answered)."""

    type: ClassVar[RecordType] = RecordType.EXECUTOR_CONNECTED
    app: AppName
    gateway: GatewayId
    session: SessionInfo
    ts_ms: int
    """Event time, from the gateway's clock."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutorDisconnected:
    """A session closed. ``draining`` marks a gateway shutdown (executors will come back);
    ``revoked`` a session closed because its API key was revoked (the executor may well be alive).
    """

    type: ClassVar[RecordType] = RecordType.EXECUTOR_DISCONNECTED
    app: AppName
    gateway: GatewayId
    executor_id: ExecutorId
    conn_id: ConnId
    close_code: int | None
    close_reason: str
    draining: bool
    ts_ms: int
    revoked: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayHeartbeat:
    """One record per gateway pod, app and heartbeat interval: the sessions it holds.

    It is both the liveness heartbeat of those executors and a snapshot that heals a table that
    missed a connect or disconnect.
    """

    type: ClassVar[RecordType] = RecordType.GATEWAY_HEARTBEAT
    app: AppName
    gateway: GatewayId
    sessions: tuple[SessionInfo, ...]
    ts_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandProgress:
    """A gateway's report on a command it delivered: sent, then succeeded or failed."""

    type: ClassVar[RecordType] = RecordType.COMMAND_PROGRESS
    app: AppName
    command_id: CommandId
    gateway: GatewayId
    executor_id: ExecutorId
    status: CommandStatus
    error: str | None
    ts_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoverExecutor:
    """Command: have ``target`` recover the pending workflows of ``dead_executor_id``.

    The id is deterministic (recovery and attempt), so a duplicate delivery is recognised; DBOS
    recovery is idempotent anyway (it re-enqueues through an atomic dequeue).
    """

    type: ClassVar[RecordType] = RecordType.RECOVER_EXECUTOR
    command_id: CommandId
    app: AppName
    target: ExecutorId
    target_gateway: GatewayId | None
    dead_executor_id: ExecutorId
    issued_at_ms: int
    timeout_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoveryDecision:
    """An audit record: one step of recovering a dead executor, with its reason."""

    type: ClassVar[RecordType] = RecordType.RECOVERY_DECISION
    app: AppName
    dead_executor_id: ExecutorId
    application_version: str
    step: RecoveryStep
    reason: str
    ts_ms: int
    attempt: int = 0
    target: ExecutorId | None = None
    command_id: CommandId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowStatus:
    """One workflow's status as an executor reported it (DBOS ``WorkflowsOutput``).

    Keyed ``{app}/{workflow_id}`` on the workflow events topic, so one workflow's records stay in
    order. Folds are latest-wins by ``(updated_at_ms, observed_at_ms)``. ``has_input`` and
    ``has_output`` say whether the poll loaded those columns: a status-only refresh must not erase a
    stored input or output.
    """

    type: ClassVar[RecordType] = RecordType.WORKFLOW_STATUS
    app: AppName
    workflow_id: WorkflowId
    status: str
    observed_at_ms: int
    """When the gateway received it (its clock)."""
    name: str | None = None
    class_name: str | None = None
    config_name: str | None = None
    authenticated_user: str | None = None
    assumed_role: str | None = None
    authenticated_roles: str | None = None
    input: str | None = None
    output: str | None = None
    error: str | None = None
    has_input: bool = False
    has_output: bool = False
    created_at_ms: int | None = None
    updated_at_ms: int | None = None
    completed_at_ms: int | None = None
    dequeued_at_ms: int | None = None
    queue_name: str | None = None
    queue_partition_key: str | None = None
    deduplication_id: str | None = None
    priority: int | None = None
    application_version: str | None = None
    executor_id: str | None = None
    timeout_ms: int | None = None
    deadline_epoch_ms: int | None = None
    delay_until_epoch_ms: int | None = None
    forked_from: str | None = None
    was_forked_from: bool = False
    parent_workflow_id: str | None = None
    attributes: str | None = None
    schedule_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StepInfo:
    """One step of a workflow (DBOS ``WorkflowSteps``)."""

    function_id: int
    function_name: str
    output: str | None = None
    error: str | None = None
    child_workflow_id: str | None = None
    started_at_ms: int | None = None
    completed_at_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowSteps:
    """The steps of one workflow as an executor listed them (replaces what was stored before)."""

    type: ClassVar[RecordType] = RecordType.WORKFLOW_STEPS
    app: AppName
    workflow_id: WorkflowId
    steps: tuple[StepInfo, ...]
    observed_at_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureCursor:
    """Where the incremental status capture of one app stands (DBOS system DB clock, epoch ms)."""

    created_from_ms: int = 0
    """Next poll lists workflows created at or after this time..."""
    created_skip: int = 0
    """...skipping this many created exactly at ``created_from_ms`` (already seen)."""
    completed_from_ms: int = 0
    """Workflows completed at or after this time (minus an overlap) are listed again."""
    completed_span_ms: int = 0
    """When completions outgrew a poll's page budget: list them in windows this wide (0: up to
    now in one go)."""
    active_offset: int = 0
    """Where the next refresh of active workflows starts: with more of them than a page, each
    poll refreshes the next page, so every active workflow is re-read in turn."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PollWorkflows:
    """Command: have ``target`` list what changed in its app since ``cursor``.

    Issued by the one capture poller that owns the app's partition; the gateway holding ``target``
    runs the bounded queries, publishes each workflow as a ``WorkflowStatus`` and reports a
    ``PollResult``. Safe to run twice: the folds are idempotent.
    """

    type: ClassVar[RecordType] = RecordType.POLL_WORKFLOWS
    command_id: CommandId
    app: AppName
    target: ExecutorId
    target_gateway: GatewayId | None
    cursor: CaptureCursor
    page_size: int
    max_pages: int
    check_active: bool
    """Also refresh the statuses of active (pending, enqueued, delayed) workflows."""
    steps_budget: int
    """At most this many newly completed workflows get their steps captured in this poll."""
    issued_at_ms: int
    timeout_ms: int
    recheck_created: bool = False
    """Also list again the creations of the last seconds before the cursor (statuses only), for
    rows committed after the cursor passed their creation time (concurrent inserts)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PollResult:
    """A gateway's report on one ``PollWorkflows``: the cursor to use next, or an error."""

    type: ClassVar[RecordType] = RecordType.POLL_RESULT
    command_id: CommandId
    app: AppName
    gateway: GatewayId
    executor_id: ExecutorId
    ok: bool
    cursor: CaptureCursor
    """The advanced cursor (unchanged when ``ok`` is false)."""
    workflows_seen: int
    requests: int
    """DBOS requests this poll cost the executor."""
    more: bool
    """A page limit was hit: poll again soon rather than after the interval."""
    active_seen: bool
    """Some listed workflow is still active (pending, enqueued or delayed)."""
    ts_ms: int
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutorRequest:
    """A console question for one executor, answered on the replies topic (keyed by target)."""

    type: ClassVar[RecordType] = RecordType.EXECUTOR_REQUEST
    request_id: RequestId
    app: AppName
    target: ExecutorId
    target_gateway: GatewayId | None
    kind: RequestKind
    workflow_id: WorkflowId
    """The workflow asked about or acted on; empty for app-wide kinds (schedules, versions)."""
    issued_at_ms: int
    timeout_ms: int
    params: Mapping[str, Any] = field(default_factory=dict)
    """The kind's arguments (JSON object), e.g. ``{"workflow_ids": [...]}`` for a bulk cancel."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutorReply:
    """The answer to an ``ExecutorRequest`` (keyed by request id on the replies topic)."""

    type: ClassVar[RecordType] = RecordType.EXECUTOR_REPLY
    request_id: RequestId
    app: AppName
    executor_id: ExecutorId
    gateway: GatewayId
    ok: bool
    ts_ms: int
    error: str | None = None
    workflow: WorkflowStatus | None = None
    steps: tuple[StepInfo, ...] | None = None
    failure: ReplyFailure | None = None
    """Set exactly when ``ok`` is false."""
    result: Any = None
    """The answer of a kind other than get_workflow/list_steps (a JSON value)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowDeleted:
    """An operator deleted a workflow (and, with ``with_children``, its descendants) from the
    app's system database: the store forgets it. Keyed ``{app}/{workflow_id}`` on the workflow
    events topic, after the workflow's statuses."""

    type: ClassVar[RecordType] = RecordType.WORKFLOW_DELETED
    app: AppName
    workflow_id: WorkflowId
    with_children: bool
    deleted_at_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorAction:
    """An audit record: one operator action (console, API or CLI) and how it ended.

    Published on the audit topic when the action ends; the store's audit row is a pure function of
    it, so replaying the topic gives the same rows. ``action_id`` is the action's idempotency key:
    the same key never acts twice.
    """

    type: ClassVar[RecordType] = RecordType.OPERATOR_ACTION
    action_id: str
    app: AppName
    actor: str
    """Who: ``token:<name>`` for an API token, ``user:<name>`` from a trusted proxy, ``local``."""
    action: str
    """What, e.g. ``workflow.cancel``, ``bulk.resume``, ``schedule.pause``."""
    target: str
    """What it was done to: a workflow id, a bulk job id, a schedule or version name."""
    params: Mapping[str, Any]
    outcome: ActionOutcome
    requested_at_ms: int
    finished_at_ms: int
    error: str | None = None
    result: Mapping[str, Any] | None = None
    executor_id: ExecutorId | None = None


ExecutorEvent = (
    ExecutorConnected | ExecutorDisconnected | GatewayHeartbeat | CommandProgress | PollResult
)
WorkflowEvent = WorkflowStatus | WorkflowSteps | WorkflowDeleted
Command = RecoverExecutor | PollWorkflows | ExecutorRequest
AuditRecord = RecoveryDecision | OperatorAction
Record = ExecutorEvent | WorkflowEvent | Command | AuditRecord | ExecutorReply


def workflow_key(app: str, workflow_id: str) -> bytes:
    """The Kafka key (and table key) of one workflow: ``{app}/{workflow_id}``.

    App names never hold a ``/`` (they are one URL path segment).
    """
    return f"{app}/{workflow_id}".encode()


def record_key(record: Record) -> bytes:
    """The Kafka key of a record: its app; commands their target executor; workflow events their
    workflow; replies their request."""
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
    body = orjson.dumps(record)  # every record has fields: body is '{"...'
    return b'{"type":"' + record.type.value.encode() + b'",' + body[1:]


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
    )


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


def _workflow_status(f: Fields) -> WorkflowStatus:
    return WorkflowStatus(
        app=AppName(f.text("app")),
        workflow_id=WorkflowId(f.text("workflow_id")),
        status=f.text("status"),
        observed_at_ms=f.integer("observed_at_ms"),
        name=f.opt_text("name"),
        class_name=f.opt_text("class_name"),
        config_name=f.opt_text("config_name"),
        authenticated_user=f.opt_text("authenticated_user"),
        assumed_role=f.opt_text("assumed_role"),
        authenticated_roles=f.opt_text("authenticated_roles"),
        input=bound_text(f.opt_text("input"), MAX_PAYLOAD_CHARS),
        output=bound_text(f.opt_text("output"), MAX_PAYLOAD_CHARS),
        error=bound_text(f.opt_text("error")),
        has_input=f.opt_flag("has_input"),
        has_output=f.opt_flag("has_output"),
        created_at_ms=f.opt_integer("created_at_ms"),
        updated_at_ms=f.opt_integer("updated_at_ms"),
        completed_at_ms=f.opt_integer("completed_at_ms"),
        dequeued_at_ms=f.opt_integer("dequeued_at_ms"),
        queue_name=f.opt_text("queue_name"),
        queue_partition_key=f.opt_text("queue_partition_key"),
        deduplication_id=f.opt_text("deduplication_id"),
        priority=f.opt_integer("priority"),
        application_version=f.opt_text("application_version"),
        executor_id=f.opt_text("executor_id"),
        timeout_ms=f.opt_integer("timeout_ms"),
        deadline_epoch_ms=f.opt_integer("deadline_epoch_ms"),
        delay_until_epoch_ms=f.opt_integer("delay_until_epoch_ms"),
        forked_from=f.opt_text("forked_from"),
        was_forked_from=f.opt_flag("was_forked_from"),
        parent_workflow_id=f.opt_text("parent_workflow_id"),
        attributes=f.opt_text("attributes"),
        schedule_name=f.opt_text("schedule_name"),
    )


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
