"""The recovery agent's state of one app: its executors, the recoveries of the dead, the codec.

One ``AppState`` per app (the Faust ``app-state`` table is keyed by app, like the topics): each
executor's liveness (``ExecutorRecord``, folded by ``recovery.liveness``) and each dead executor's
recovery (``Recovery``, folded by ``recovery.decisions``). Values only, plus the table codec and
``material`` (what a state says beyond clocks).

Pure: no Faust, Kafka, asyncio or clock. Imports nothing of Baton's but ``streams``.
"""

from __future__ import annotations

from collections.abc import Mapping
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

    def live_executors(self) -> list[ExecutorRecord]:
        return [e for e in self.executors.values() if e.state is ExecutorState.CONNECTED]


def material(state: AppState) -> tuple[object, ...]:
    """What a state says beyond clocks: two states with the same ``material`` differ only in
    last-seen times and the watermark, which the next heartbeats restore."""
    return (
        tuple(
            sorted(
                (e.executor_id, e.state, e.conn_id, e.gateway, e.draining, e.revoked)
                for e in state.executors.values()
            )
        ),
        tuple(
            sorted(
                (r.dead_executor_id, r.state, r.attempt, r.target, r.command_id, r.sent_at_ms)
                for r in state.recoveries.values()
            )
        ),
    )


def encode_state(state: AppState) -> bytes:
    """Serialise an app's state for the Faust table (JSON)."""
    return orjson.dumps(state)


def decode_state(raw: bytes) -> AppState:
    """Inverse of ``encode_state``; the table holds only what ``encode_state`` wrote."""
    data: dict[str, Any] = orjson.loads(raw)
    return AppState(
        app=AppName(data["app"]),
        executors={ExecutorId(k): _executor_from(v) for k, v in data.get("executors", {}).items()},
        recoveries={
            ExecutorId(k): _recovery_from(v) for k, v in data.get("recoveries", {}).items()
        },
        watermark_ms=data.get("watermark_ms", 0),
    )


def _executor_from(data: dict[str, Any]) -> ExecutorRecord:
    info = data["info"]
    return ExecutorRecord(
        **{
            **data,
            "info": ExecutorInfo(**info),
            "state": ExecutorState(data["state"]),
        }
    )


def _recovery_from(data: dict[str, Any]) -> Recovery:
    return Recovery(
        **{**data, "state": RecoveryState(data["state"]), "tried": tuple(data.get("tried", ()))}
    )
