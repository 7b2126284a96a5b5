"""The DBOS Conductor protocol, server side, as a sans-I/O session.

The one home of DBOS wire messages (ground truth: ``dbos/_conductor/protocol.py`` and
``conductor.py`` in ``dbos==2.31.1``). The conductor sends requests ``{"type", "request_id", ...}``;
the executor answers each with a message of the same ``type`` and ``request_id``. The executor never
speaks first.

Pure: no asyncio, websockets, Kafka or clock. The shell (``gateway/connection.py``) feeds received
text in, sends what ``data_to_send`` returns, and acts on ``events_received``.

Everything an executor sends is untrusted (HOUSE_STYLE §5): ``decode_reply`` and
``ExecutorSession.receive_text`` raise only ``ProtocolError``, whose close code the shell answers
with and whose text it never sends (``close_reason`` is the fixed reason of each code); what an
executor says about itself is bounded here, before it reaches a record, a heartbeat or the store.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

import orjson

from streams.bounds import bound_text
from streams.exceptions import ProtocolError
from streams.ids import ExecutorId, RequestId
from streams.records import ExecutorInfo

CLOSE_PROTOCOL_ERROR = 1002
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_INVALID_PAYLOAD = 1007
CLOSE_POLICY_VIOLATION = 1008
CLOSE_MESSAGE_TOO_BIG = 1009
"""websockets itself closes with 1009 a frame over ``max_size``; listed for ``close_reason``."""

_CLOSE_REASONS = {
    CLOSE_PROTOCOL_ERROR: "protocol error",
    CLOSE_UNSUPPORTED_DATA: "unsupported data",
    CLOSE_INVALID_PAYLOAD: "invalid payload",
    CLOSE_POLICY_VIOLATION: "policy violation",
    CLOSE_MESSAGE_TOO_BIG: "message too big",
}

MAX_ID_CHARS = 256
"""``executor_id`` and ``application_version`` longer than this are refused (store columns hold
256; a cut id would no longer name the executor DBOS knows, so its recovery would find nothing)."""
MAX_HOSTNAME_CHARS = 256
MAX_TAG_CHARS = 64
"""``language`` and ``dbos_version`` (store columns hold 64)."""
MAX_METADATA_BYTES = 2048
"""``executor_metadata`` serialised larger than this is dropped: it rides in the heartbeat listings
of its app (``streams.heartbeats`` bounds their records)."""
MAX_METADATA_DEPTH = 32
"""``executor_metadata`` nested deeper than this is dropped: records hold it a few levels down, and
orjson writes no more than 254 levels (a metadata that fit alone could not be published)."""

_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
"""NUL and the other C0 controls: PostgreSQL text holds no NUL, and log lines no line breaks."""


def close_reason(close_code: int) -> str:
    """The fixed, public reason sent with a close code (never our exception text, WS L632)."""
    return _CLOSE_REASONS.get(close_code, "")


class MessageType(StrEnum):
    """Every DBOS Conductor message type (``dbos._conductor.protocol.MessageType``)."""

    EXECUTOR_INFO = "executor_info"
    RECOVERY = "recovery"
    CANCEL = "cancel"
    DELETE = "delete"
    LIST_WORKFLOWS = "list_workflows"
    LIST_QUEUED_WORKFLOWS = "list_queued_workflows"
    RESUME = "resume"
    RESTART = "restart"
    GET_WORKFLOW = "get_workflow"
    EXIST_PENDING_WORKFLOWS = "exist_pending_workflows"
    LIST_STEPS = "list_steps"
    FORK_WORKFLOW = "fork_workflow"
    REWIND_WORKFLOW = "rewind_workflow"
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """A request the gateway sends: the type, and the fields DBOS reads for it."""

    type: MessageType
    fields: Mapping[str, Any]
    """Everything but ``type`` and ``request_id``, e.g. ``{"executor_ids": [...]}``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """An executor's answer to one request."""

    type: MessageType
    request_id: RequestId
    data: Mapping[str, Any]
    """The whole decoded message (tolerant reader: unknown fields are kept, not required)."""

    @property
    def error_message(self) -> str | None:
        """The executor's error text, bounded (DBOS sends whole tracebacks)."""
        value = self.data.get("error_message")
        return bound_text(value) if isinstance(value, str) else None


def recovery_request(executor_ids: list[ExecutorId]) -> Request:
    """DBOS conductor ``recovery`` verb: re-enqueue the pending workflows of these executors."""
    return Request(type=MessageType.RECOVERY, fields={"executor_ids": list(executor_ids)})


def recovery_succeeded(reply: Reply) -> bool:
    """A ``recovery`` reply says ``success`` (``RecoveryResponse``)."""
    return reply.data.get("success") is True


def decode_reply(text: str) -> Reply:
    """Parse an executor message; raises ``ProtocolError`` (only) with the close code to use."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError("message is not JSON", close_code=CLOSE_INVALID_PAYLOAD) from exc
    if not isinstance(data, dict):
        raise ProtocolError("message is not a JSON object", close_code=CLOSE_INVALID_PAYLOAD)
    type_, request_id = data.get("type"), data.get("request_id")
    if not isinstance(type_, str) or not isinstance(request_id, str):
        raise ProtocolError(
            "message lacks a string type and request_id", close_code=CLOSE_PROTOCOL_ERROR
        )
    try:
        message_type = MessageType(type_)
    except ValueError as exc:
        if len(type_) > MAX_ID_CHARS or len(request_id) > MAX_ID_CHARS:
            raise ProtocolError(
                "unknown message type, too long to answer", close_code=CLOSE_POLICY_VIOLATION
            ) from exc
        raise UnknownMessageType(type_, RequestId(request_id)) from exc
    return Reply(type=message_type, request_id=RequestId(request_id), data=data)


class UnknownMessageType(ProtocolError):
    """A well-formed message of a type this gateway does not know (HOUSE_STYLE §2: it gets an
    error reply, not a dropped connection). ``ExecutorSession`` answers it; the close code is
    only for a caller of ``decode_reply`` that does not.

    Attributes:
        message_type: the type the executor sent (at most ``MAX_ID_CHARS``).
        request_id: its request id (at most ``MAX_ID_CHARS``).
    """

    def __init__(self, message_type: str, request_id: RequestId) -> None:
        super().__init__("unknown message type", close_code=CLOSE_POLICY_VIOLATION)
        self.message_type = message_type
        self.request_id = request_id


def unknown_type_reply(unknown: UnknownMessageType) -> str:
    """The DBOS-shaped answer (``BaseResponse``: the same ``type`` and ``request_id``, and an
    ``error_message``) to a message of an unknown type."""
    shown = _CONTROL_CHARS.sub("", unknown.message_type)
    frame = {
        "type": unknown.message_type,
        "request_id": unknown.request_id,
        "error_message": f"unknown message type {shown!r}: this conductor does not handle it",
    }
    return orjson.dumps(frame).decode()


def decode_executor_info(reply: Reply) -> ExecutorInfo:
    """Read an ``executor_info`` reply (``ExecutorInfoResponse``), bounded; raises
    ``ProtocolError``: 1002 when the id or version is missing, 1008 when either is unusable
    (over ``MAX_ID_CHARS`` or holding control characters)."""
    data = reply.data
    executor_id, version = data.get("executor_id"), data.get("application_version")
    if not isinstance(executor_id, str) or not executor_id or not isinstance(version, str):
        raise ProtocolError(
            "executor_info lacks executor_id or application_version",
            close_code=CLOSE_PROTOCOL_ERROR,
        )
    if not (_usable_id(executor_id) and _usable_id(version)):
        raise ProtocolError(
            "executor_id or application_version is too long or holds control characters",
            close_code=CLOSE_POLICY_VIOLATION,
        )
    return ExecutorInfo(
        executor_id=ExecutorId(executor_id),
        application_version=version,
        hostname=_opt_text(data.get("hostname"), MAX_HOSTNAME_CHARS),
        language=_opt_text(data.get("language"), MAX_TAG_CHARS),
        dbos_version=_opt_text(data.get("dbos_version"), MAX_TAG_CHARS),
        metadata=_metadata(data.get("executor_metadata")),
    )


def _usable_id(value: str) -> bool:
    return len(value) <= MAX_ID_CHARS and _CONTROL_CHARS.search(value) is None


def _opt_text(value: object, limit: int) -> str | None:
    """Descriptive text, kept without control characters and cut to ``limit``."""
    return _CONTROL_CHARS.sub("", value)[:limit] if isinstance(value, str) else None


def _metadata(value: object) -> dict[str, Any] | None:
    """The executor's metadata if it is an object that fits a record, else ``None``."""
    if not isinstance(value, dict) or _deeper_than(value, MAX_METADATA_DEPTH):
        return None
    return value if len(orjson.dumps(value)) <= MAX_METADATA_BYTES else None


def _deeper_than(value: object, limit: int) -> bool:
    """Whether JSON ``value`` nests objects and arrays more than ``limit`` levels deep."""
    level: list[object] = [value]
    for _ in range(limit):
        level = [
            child
            for item in level
            if isinstance(item, dict | list)
            for child in (item.values() if isinstance(item, dict) else item)
        ]
        if not level:
            return False
    return any(isinstance(item, dict | list) for item in level)


class SessionPhase(Enum):
    AWAITING_INFO = "awaiting_info"
    READY = "ready"


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionReady:
    """The executor answered ``executor_info``: it is now a known executor."""

    info: ExecutorInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyReceived:
    """The answer to a request this session sent."""

    reply: Reply


SessionEvent = SessionReady | ReplyReceived


class ExecutorSession:
    """One executor's conversation: request ids, correlation and the handshake.

    Usage: ``start()`` once, then ``request()`` for each request, ``receive_text()`` for each frame
    received, and after each call drain ``data_to_send()`` and ``events_received()``.
    """

    def __init__(self, conn_id: str) -> None:
        self.phase = SessionPhase.AWAITING_INFO
        self.info: ExecutorInfo | None = None
        self._conn_id = conn_id
        self._next_id = 0
        self._pending: dict[RequestId, MessageType] = {}
        self._info_request: RequestId | None = None
        self._outgoing: list[str] = []
        self._events: list[SessionEvent] = []

    def start(self) -> None:
        """Ask the executor who it is (the first thing the DBOS conductor does)."""
        self._info_request = self.request(Request(type=MessageType.EXECUTOR_INFO, fields={}))

    def request(self, request: Request) -> RequestId:
        """Queue a request and return the id its reply will carry."""
        self._next_id += 1
        request_id = RequestId(f"{self._conn_id}-{self._next_id}")
        self._pending[request_id] = request.type
        frame = {**request.fields, "type": request.type.value, "request_id": request_id}
        self._outgoing.append(orjson.dumps(frame).decode())
        return request_id

    def forget(self, request_id: RequestId) -> None:
        """Stop waiting for a reply (the caller timed out); a late reply is then ignored."""
        self._pending.pop(request_id, None)

    def pending_requests(self) -> list[RequestId]:
        return list(self._pending)

    def receive_text(self, text: str) -> None:
        """Take one text frame from the executor; raises ``ProtocolError`` on a violation.

        A well-formed message of an unknown type is answered with an error reply (queued in
        ``data_to_send``); the session goes on."""
        try:
            reply = decode_reply(text)
        except UnknownMessageType as unknown:
            self._outgoing.append(unknown_type_reply(unknown))
            return
        expected = self._pending.pop(reply.request_id, None)
        if expected is None:
            return  # the reply to a request we gave up on: harmless
        if expected is not reply.type:
            raise ProtocolError(
                "reply type does not match its request", close_code=CLOSE_PROTOCOL_ERROR
            )
        if reply.request_id == self._info_request:
            self._on_info(reply)
        else:
            self._events.append(ReplyReceived(reply=reply))

    def _on_info(self, reply: Reply) -> None:
        info = decode_executor_info(reply)
        if self.info is not None and info.executor_id != self.info.executor_id:
            raise ProtocolError("executor id changed mid-session", close_code=CLOSE_PROTOCOL_ERROR)
        self.info = info
        self.phase = SessionPhase.READY
        self._events.append(SessionReady(info=info))

    def receive_binary(self) -> None:
        """DBOS only sends text frames."""
        raise ProtocolError("binary frames are not supported", close_code=CLOSE_UNSUPPORTED_DATA)

    def data_to_send(self) -> list[str]:
        out, self._outgoing = self._outgoing, []
        return out

    def events_received(self) -> list[SessionEvent]:
        out, self._events = self._events, []
        return out
