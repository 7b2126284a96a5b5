"""Baton's own Kafka records: executor events, commands, replies and audit records.

The one home of this contract: the gateway, the Faust agents, the recovery agent and the console
all import it. Pure: no Kafka, Faust, asyncio or clock here. The codec is ``streams.codec``.

One concept, so one module even past ~450 lines: every record type of the contract, side by side,
so that a change to one is made knowing the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from streams.bounds import BOUND, LABEL, PAYLOAD, STATUS, TEXT, WORKFLOW_REF, Bound
from streams.ids import AppName, CommandId, ConnId, ExecutorId, GatewayId, RequestId, WorkflowId


class RecordType(StrEnum):
    EXECUTOR_CONNECTED = "executor_connected"
    EXECUTOR_DISCONNECTED = "executor_disconnected"
    GATEWAY_HEARTBEAT = "gateway_heartbeat"
    COMMAND_PROGRESS = "command_progress"
    RECOVER_EXECUTOR = "recover_executor"
    LIST_SESSIONS = "list_sessions"
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
    REWIND = "rewind_workflow"
    """Re-run a finished workflow from a step, keeping its id (newer DBOS clients only)."""
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
    """Why an ``ExecutorReply`` is not ok; the console retries the first two, and ``unsupported``,
    on another executor."""

    NOT_CONNECTED = "not_connected"
    """The target is not connected to the pod that was asked: the request never reached it."""
    DISCONNECTED = "disconnected"
    """The target's session closed while the request was in flight: it may or may not have acted."""
    TIMEOUT = "timeout"
    EXECUTOR_ERROR = "executor_error"
    """The executor answered with an error (its text, bounded, is in ``error``)."""
    GATEWAY_ERROR = "gateway_error"
    UNSUPPORTED = "unsupported"
    """The executor's DBOS client does not support the request (``error`` names client and
    version); another executor of the app may."""
    METADATA_ONLY = "metadata_only"
    """The executor runs in metadata-only mode and refuses requests for a workflow's data."""


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
    """A gateway pod's heartbeat for one app: the liveness heartbeat of the sessions it holds,
    and sometimes a listing of them that heals a table that missed a connect or disconnect.

    Every interval, one record that counts the pod's sessions of the app and digests them
    (``streams.heartbeats.session_digest``). A listing (``listed``) goes with it when the pod
    holds few sessions, and otherwise on pod start, after a failed publish and at a slow cadence,
    split in chunks of bounded size by executor id: each chunk lists the sessions whose executor
    id is after ``listed_after`` and up to ``listed_through`` (``None``: unbounded), so a reader
    can tell what the pod no longer holds from one chunk alone. A record without these fields
    (an older gateway) lists every session of the app.
    """

    type: ClassVar[RecordType] = RecordType.GATEWAY_HEARTBEAT
    app: AppName
    gateway: GatewayId
    sessions: tuple[SessionInfo, ...]
    """The listed sessions (empty in a beat that lists nothing)."""
    ts_ms: int
    listed: bool = True
    """``sessions`` lists every session of the range; else the beat lists nothing."""
    listed_after: ExecutorId | None = None
    """The range's lower bound, excluded (``None``: from the first executor id)."""
    listed_through: ExecutorId | None = None
    """The range's upper bound, included (``None``: to the last executor id)."""
    session_count: int | None = None
    """How many sessions of the app the pod holds (``None``: an older gateway's record)."""
    digest: str | None = None
    """``session_digest`` of those sessions (``None``: an older gateway's record)."""

    def lists(self, executor_id: ExecutorId) -> bool:
        """Whether this record's listing covers ``executor_id``'s range."""
        return (
            self.listed
            and (self.listed_after is None or executor_id > self.listed_after)
            and (self.listed_through is None or executor_id <= self.listed_through)
        )


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
class ListSessions:
    """Command: gateway pod ``gateway``, list your sessions of ``app`` in your next heartbeat.

    A worker sends it when the pod's heartbeat digest disagrees with the sessions the worker
    believes the pod holds (``recovery.digest``): the listing heals the worker's table. Only the
    named pod acts on it; a duplicate asks for one more listing, nothing else.
    """

    type: ClassVar[RecordType] = RecordType.LIST_SESSIONS
    command_id: CommandId
    app: AppName
    gateway: GatewayId
    issued_at_ms: int


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


def _text(bound: Bound) -> Any:
    """An optional text field (``None`` by default) bounded by ``bound`` wherever it is read."""
    return field(default=None, metadata={BOUND: bound})


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowStatus:
    """One workflow's status as an executor reported it (DBOS ``WorkflowsOutput``).

    Keyed ``{app}/{workflow_id}`` on the workflow events topic, so one workflow's records stay in
    order. Folds are latest-wins by ``(updated_at_ms, observed_at_ms)``. ``has_input`` and
    ``has_output`` say whether the poll loaded those columns: a status-only refresh must not erase a
    stored input or output.

    The one list of a workflow's fields: the codec, the gateway's reader of DBOS replies, the
    store's row values and the console's JSON are derived from it, and each text field declares
    its bound here (``streams.bounds``).
    """

    type: ClassVar[RecordType] = RecordType.WORKFLOW_STATUS
    app: AppName
    workflow_id: WorkflowId
    status: str = field(metadata={BOUND: STATUS})
    observed_at_ms: int
    """When the gateway received it (its clock)."""
    name: str | None = _text(LABEL)
    class_name: str | None = _text(LABEL)
    config_name: str | None = _text(LABEL)
    authenticated_user: str | None = _text(LABEL)
    assumed_role: str | None = _text(LABEL)
    authenticated_roles: str | None = _text(TEXT)
    input: str | None = _text(PAYLOAD)
    output: str | None = _text(PAYLOAD)
    error: str | None = _text(TEXT)
    has_input: bool = False
    has_output: bool = False
    created_at_ms: int | None = None
    updated_at_ms: int | None = None
    completed_at_ms: int | None = None
    dequeued_at_ms: int | None = None
    queue_name: str | None = _text(LABEL)
    queue_partition_key: str | None = _text(LABEL)
    deduplication_id: str | None = _text(LABEL)
    priority: int | None = None
    application_version: str | None = _text(LABEL)
    executor_id: str | None = _text(LABEL)
    timeout_ms: int | None = None
    deadline_epoch_ms: int | None = None
    delay_until_epoch_ms: int | None = None
    forked_from: str | None = _text(WORKFLOW_REF)
    was_forked_from: bool = False
    parent_workflow_id: str | None = _text(WORKFLOW_REF)
    attributes: str | None = _text(TEXT)
    schedule_name: str | None = _text(LABEL)


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
    payloads_private: bool = False
    """Payload privacy is on for the app: list without inputs, outputs and errors (DBOS
    ``load_input``/``load_output`` false), and publish none of them, nor steps' outputs. Absent
    in a record of an older worker: false, as before."""


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
    payloads_private: bool = False
    """Payload privacy is on for the app: a lookup (get_workflow, list_steps) asks for no inputs,
    outputs or errors and answers and publishes none. Absent in an older console's record: false."""


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
Command = RecoverExecutor | PollWorkflows | ExecutorRequest | ListSessions
AuditRecord = RecoveryDecision | OperatorAction
Record = ExecutorEvent | WorkflowEvent | Command | AuditRecord | ExecutorReply
