"""Baton's own Kafka records: executor events, commands and audit records, and their codec.

The one home of this contract: the gateway, the Faust agents, the recovery agent and the console
all import it. Pure: no Kafka, Faust, asyncio or clock here. Encoding is JSON (orjson) with a
``type`` discriminator; decoding ignores unknown fields and raises only ``RecordError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, NewType

import orjson

from streams.exceptions import RecordError

AppName = NewType("AppName", str)
ExecutorId = NewType("ExecutorId", str)
GatewayId = NewType("GatewayId", str)
ConnId = NewType("ConnId", str)
CommandId = NewType("CommandId", str)

MAX_TEXT_CHARS = 4096
"""Executor-supplied text (errors, tracebacks) is cut to this many characters."""


def bound_text(text: str | None, limit: int = MAX_TEXT_CHARS) -> str | None:
    """Cut untrusted text to ``limit`` characters, saying so at the cut."""
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + f"... [{len(text) - limit} more characters cut]"


class RecordType(StrEnum):
    EXECUTOR_CONNECTED = "executor_connected"
    EXECUTOR_DISCONNECTED = "executor_disconnected"
    GATEWAY_HEARTBEAT = "gateway_heartbeat"
    COMMAND_PROGRESS = "command_progress"
    RECOVER_EXECUTOR = "recover_executor"
    RECOVERY_DECISION = "recovery_decision"


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


ExecutorEvent = ExecutorConnected | ExecutorDisconnected | GatewayHeartbeat | CommandProgress
Record = ExecutorEvent | RecoverExecutor | RecoveryDecision


def record_key(record: Record) -> bytes:
    """The Kafka key of a record: its app, or for commands the target executor."""
    if isinstance(record, RecoverExecutor):
        return record.target.encode()
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
        record: Record = _DECODERS[kind](_Fields(data))
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordError(f"malformed {kind.value} record: {exc!r}") from exc
    return record


class _Fields:
    """Typed access to a decoded JSON object; every getter raises TypeError/KeyError on misfit."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    def text(self, name: str) -> str:
        value = self._data[name]
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a string")
        return value

    def opt_text(self, name: str) -> str | None:
        value = self._data.get(name)
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name} must be a string or null")
        return value

    def integer(self, name: str) -> int:
        value = self._data[name]
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an integer")
        return value

    def opt_integer(self, name: str) -> int | None:
        return None if self._data.get(name) is None else self.integer(name)

    def flag(self, name: str) -> bool:
        value = self._data[name]
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be a boolean")
        return value

    def opt_flag(self, name: str) -> bool:
        return False if self._data.get(name) is None else self.flag(name)

    def obj(self, name: str) -> _Fields:
        value = self._data[name]
        if not isinstance(value, dict):
            raise TypeError(f"{name} must be an object")
        return _Fields(value)

    def opt_mapping(self, name: str) -> Mapping[str, Any] | None:
        value = self._data.get(name)
        if value is not None and not isinstance(value, dict):
            raise TypeError(f"{name} must be an object or null")
        return value

    def objs(self, name: str) -> list[_Fields]:
        value = self._data[name]
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise TypeError(f"{name} must be a list of objects")
        return [_Fields(v) for v in value]


def _executor_info(f: _Fields) -> ExecutorInfo:
    return ExecutorInfo(
        executor_id=ExecutorId(f.text("executor_id")),
        application_version=f.text("application_version"),
        hostname=f.opt_text("hostname"),
        language=f.opt_text("language"),
        dbos_version=f.opt_text("dbos_version"),
        metadata=f.opt_mapping("metadata"),
    )


def _session(f: _Fields) -> SessionInfo:
    return SessionInfo(
        info=_executor_info(f.obj("info")),
        conn_id=ConnId(f.text("conn_id")),
        connected_at_ms=f.integer("connected_at_ms"),
    )


def _connected(f: _Fields) -> ExecutorConnected:
    return ExecutorConnected(
        app=AppName(f.text("app")),
        gateway=GatewayId(f.text("gateway")),
        session=_session(f.obj("session")),
        ts_ms=f.integer("ts_ms"),
    )


def _disconnected(f: _Fields) -> ExecutorDisconnected:
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


def _heartbeat(f: _Fields) -> GatewayHeartbeat:
    return GatewayHeartbeat(
        app=AppName(f.text("app")),
        gateway=GatewayId(f.text("gateway")),
        sessions=tuple(_session(s) for s in f.objs("sessions")),
        ts_ms=f.integer("ts_ms"),
    )


def _progress(f: _Fields) -> CommandProgress:
    return CommandProgress(
        app=AppName(f.text("app")),
        command_id=CommandId(f.text("command_id")),
        gateway=GatewayId(f.text("gateway")),
        executor_id=ExecutorId(f.text("executor_id")),
        status=CommandStatus(f.text("status")),
        error=bound_text(f.opt_text("error")),
        ts_ms=f.integer("ts_ms"),
    )


def _recover(f: _Fields) -> RecoverExecutor:
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


def _decision(f: _Fields) -> RecoveryDecision:
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


_DECODERS: dict[RecordType, Any] = {
    RecordType.EXECUTOR_CONNECTED: _connected,
    RecordType.EXECUTOR_DISCONNECTED: _disconnected,
    RecordType.GATEWAY_HEARTBEAT: _heartbeat,
    RecordType.COMMAND_PROGRESS: _progress,
    RecordType.RECOVER_EXECUTOR: _recover,
    RecordType.RECOVERY_DECISION: _decision,
}
