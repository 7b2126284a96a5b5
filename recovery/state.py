"""The recovery agent's state of one app: its executors, the recoveries of the dead, the codec.

One ``AppState`` per app: each executor's liveness (``ExecutorRecord``, folded by
``recovery.liveness``) and each dead executor's recovery (``Recovery``, folded by
``recovery.decisions``). Values only, plus the codec of one record (the Faust ``liveness`` table
holds one entry per executor and per recovery: ``recovery.table``) and ``executor_material``
(what an executor record says beyond its clock).

Pure: no Faust, Kafka, asyncio or clock. Imports nothing of Baton's but ``streams``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from streams.ids import AppName, CommandId, ConnId, ExecutorId, GatewayId
from streams.records import ExecutorInfo


class ExecutorState(StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    DEAD = "dead"
    RECOVERED = "recovered"


class RecoveryState(StrEnum):
    PENDING = "pending"
    """Declared dead (or a try failed): a target is to be chosen."""
    IN_FLIGHT = "in_flight"
    """A target was chosen and the command issued; waiting for its reply."""
    STRANDED = "stranded"
    """No live executor of the version: waiting for one to connect."""
    SUCCEEDED = "succeeded"
    ABANDONED = "abandoned"
    """The executor came back before a target was asked: a live executor is never recovered."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutorRecord:
    """One executor as the liveness table knows it."""

    info: ExecutorInfo
    gateway: GatewayId
    conn_id: ConnId
    state: ExecutorState
    connected_at_ms: int
    last_seen_ms: int
    updated_ms: int
    """Event time of the last state change: older events lose against it."""
    disconnected_at_ms: int | None = None
    close_code: int | None = None
    close_reason: str | None = None
    draining: bool = False
    """Disconnected because its gateway pod was shutting down: it will reconnect elsewhere."""
    revoked: bool = False
    """Disconnected because its API key was revoked: locked out, not known to be dead."""
    closed_at_ms: int | None = None
    """Event time of its latest close, kept across reconnects: the policy counts the closes of
    an app's executors near one another to tell infrastructure (a crowd) from a death."""

    @property
    def executor_id(self) -> ExecutorId:
        return self.info.executor_id


@dataclass(frozen=True, slots=True, kw_only=True)
class Recovery:
    """The recovery of one dead executor's pending workflows."""

    dead_executor_id: ExecutorId
    application_version: str
    state: RecoveryState
    declared_at_ms: int
    updated_ms: int
    attempt: int = 0
    target: ExecutorId | None = None
    command_id: CommandId | None = None
    chosen_at_ms: int | None = None
    sent_at_ms: int | None = None
    failed_at_ms: int | None = None
    tried: tuple[ExecutorId, ...] = ()
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AppState:
    """Everything the recovery policy needs about one app."""

    app: AppName
    executors: Mapping[ExecutorId, ExecutorRecord] = field(default_factory=dict)
    recoveries: Mapping[ExecutorId, Recovery] = field(default_factory=dict)
    watermark_ms: int = 0
    """Highest event time folded in: the app's event clock."""
    gateways_heard_ms: Mapping[GatewayId, int] = field(default_factory=dict, compare=False)
    """Each gateway pod's latest event for this app (a connect, a close, a heartbeat): a pod
    still speaking still holds its sessions, even when its heartbeats run late (a pod busy with
    thousands of sessions). Not in the table (nor compared): after a rebalance the next events
    rebuild it."""
    gateways_seen_floor_ms: Mapping[GatewayId, int] = field(default_factory=dict, compare=False)
    """Per gateway pod, a time no connected record it holds was last seen before (a lower bound,
    ``recovery.liveness.SEEN_REFRESH_MS``): while a quiet beat is within the refresh interval of
    it, none of the pod's records can be due for a refresh, and the beat does not walk them. Not
    in the table (nor compared): an absent floor makes the next quiet beat walk, and set it."""

    def live_executors(self) -> list[ExecutorRecord]:
        return [e for e in self.executors.values() if e.state is ExecutorState.CONNECTED]


def executor_material(record: ExecutorRecord) -> tuple[object, ...]:
    """What an executor record says beyond its last-seen clock."""
    return (
        record.executor_id,
        record.state,
        record.conn_id,
        record.gateway,
        record.draining,
        record.revoked,
        record.updated_ms,
        record.connected_at_ms,
        record.info,
        record.closed_at_ms,
    )


def encode_executor(record: ExecutorRecord) -> bytes:
    """Serialise one executor record for the table (JSON)."""
    return orjson.dumps(record)


def decode_executor(raw: bytes) -> ExecutorRecord:
    """Inverse of ``encode_executor``; the table holds only what it wrote."""
    data: dict[str, Any] = orjson.loads(raw)
    return ExecutorRecord(
        **{
            **data,
            "info": ExecutorInfo(**data["info"]),
            "state": ExecutorState(data["state"]),
        }
    )


def encode_recovery(recovery: Recovery) -> bytes:
    """Serialise one recovery for the table (JSON)."""
    return orjson.dumps(recovery)


def decode_recovery(raw: bytes) -> Recovery:
    """Inverse of ``encode_recovery``."""
    data: dict[str, Any] = orjson.loads(raw)
    return Recovery(
        **{**data, "state": RecoveryState(data["state"]), "tried": tuple(data.get("tried", ()))}
    )


def state_of(
    app: AppName, executors: Iterable[ExecutorRecord], recoveries: Iterable[Recovery]
) -> AppState:
    """An app's state from its records (as the table holds them); its watermark is the newest
    event time they carry."""
    by_id = {e.executor_id: e for e in executors}
    by_dead = {r.dead_executor_id: r for r in recoveries}
    watermark = max(
        [0]
        + [max(e.last_seen_ms, e.updated_ms) for e in by_id.values()]
        + [r.updated_ms for r in by_dead.values()]
    )
    return AppState(app=app, executors=by_id, recoveries=by_dead, watermark_ms=watermark)
