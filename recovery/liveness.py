"""The liveness view of one app: a pure, idempotent fold of executor events and recovery decisions.

One ``AppState`` per app (the Faust table is keyed by app, like the topics), holding each executor's
liveness and each dead executor's recovery. Every fold is latest-wins by event time, so a record
delivered twice, or a snapshot that repeats what a connect already said, changes nothing.

Pure: no Faust, Kafka, asyncio or clock; ``now`` is never read here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import orjson

from streams.ids import AppName, CommandId, ConnId, ExecutorId, GatewayId
from streams.records import (
    CommandProgress,
    ExecutorConnected,
    ExecutorDisconnected,
    ExecutorEvent,
    ExecutorInfo,
    GatewayHeartbeat,
    PollResult,
    RecoveryDecision,
    RecoveryStep,
    SessionInfo,
)


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


def fold(state: AppState, event: ExecutorEvent) -> AppState:
    """Fold one executor event into the app's state (idempotent, latest wins by event time)."""
    match event:
        case ExecutorConnected():
            executors = _on_connected(state.executors, event)
        case ExecutorDisconnected():
            executors = _on_disconnected(state.executors, event)
        case GatewayHeartbeat():
            executors = _on_heartbeat(state.executors, event)
        case CommandProgress() | PollResult():
            executors = state.executors
    return replace(state, executors=executors, watermark_ms=max(state.watermark_ms, event.ts_ms))


def _with(
    executors: Mapping[ExecutorId, ExecutorRecord], record: ExecutorRecord
) -> dict[ExecutorId, ExecutorRecord]:
    updated = dict(executors)
    updated[record.executor_id] = record
    return updated


def _connected_record(gateway: GatewayId, session: SessionInfo, ts_ms: int) -> ExecutorRecord:
    return ExecutorRecord(
        info=session.info,
        gateway=gateway,
        conn_id=session.conn_id,
        state=ExecutorState.CONNECTED,
        connected_at_ms=session.connected_at_ms,
        last_seen_ms=ts_ms,
        updated_ms=ts_ms,
    )


def _on_connected(
    executors: Mapping[ExecutorId, ExecutorRecord], event: ExecutorConnected
) -> Mapping[ExecutorId, ExecutorRecord]:
    current = executors.get(event.session.info.executor_id)
    if current is not None and event.ts_ms < current.updated_ms:
        return executors  # a late connect: something newer already happened
    if (
        current is not None
        and current.conn_id == event.session.conn_id
        and current.state is ExecutorState.CONNECTED
    ):
        return executors  # a duplicate
    return _with(executors, _connected_record(event.gateway, event.session, event.ts_ms))


def _on_disconnected(
    executors: Mapping[ExecutorId, ExecutorRecord], event: ExecutorDisconnected
) -> Mapping[ExecutorId, ExecutorRecord]:
    current = executors.get(event.executor_id)
    if (
        current is None
        or current.conn_id != event.conn_id  # that session was already replaced
        or current.state is not ExecutorState.CONNECTED
        or event.ts_ms < current.updated_ms
    ):
        return executors
    return _with(
        executors,
        replace(
            current,
            state=ExecutorState.DISCONNECTED,
            updated_ms=event.ts_ms,
            disconnected_at_ms=event.ts_ms,
            close_code=event.close_code,
            close_reason=event.close_reason,
            draining=event.draining,
            revoked=event.revoked,
        ),
    )


def _on_heartbeat(
    executors: Mapping[ExecutorId, ExecutorRecord], event: GatewayHeartbeat
) -> Mapping[ExecutorId, ExecutorRecord]:
    updated = dict(executors)
    listed = set()
    for session in event.sessions:
        listed.add(session.info.executor_id)
        current = updated.get(session.info.executor_id)
        if current is None or _is_newer_session(current, session, event.ts_ms):
            updated[session.info.executor_id] = _connected_record(
                event.gateway, session, event.ts_ms
            )
        elif current.conn_id == session.conn_id and current.state is ExecutorState.CONNECTED:
            updated[current.executor_id] = replace(
                current, last_seen_ms=max(current.last_seen_ms, event.ts_ms)
            )
        elif (
            current.conn_id == session.conn_id
            and current.state is ExecutorState.DEAD
            and event.ts_ms > current.updated_ms
        ):
            # Declared dead for silence, yet its gateway reports the session again: it lives.
            updated[current.executor_id] = replace(
                current,
                state=ExecutorState.CONNECTED,
                last_seen_ms=event.ts_ms,
                updated_ms=event.ts_ms,
            )
    for record in executors.values():
        if _lost_by_pod(record, event, listed):
            # The pod no longer holds this session but its disconnect never reached us: heal.
            updated[record.executor_id] = replace(
                record,
                state=ExecutorState.DISCONNECTED,
                updated_ms=event.ts_ms,
                disconnected_at_ms=event.ts_ms,
                close_reason="session missing from its gateway's snapshot",
            )
    return updated


def _is_newer_session(current: ExecutorRecord, session: SessionInfo, ts_ms: int) -> bool:
    if current.conn_id == session.conn_id:
        return False
    return session.connected_at_ms > current.connected_at_ms and ts_ms >= current.updated_ms


def _lost_by_pod(record: ExecutorRecord, event: GatewayHeartbeat, listed: set[ExecutorId]) -> bool:
    return (
        record.gateway == event.gateway
        and record.state is ExecutorState.CONNECTED
        and record.executor_id not in listed
        and event.ts_ms > record.updated_ms
    )


def fold_decision(state: AppState, decision: RecoveryDecision) -> AppState:
    """Fold a recovery decision (from the policy, or replayed from the audit topic)."""
    executors = dict(state.executors)
    recoveries = dict(state.recoveries)
    dead_id = decision.dead_executor_id
    current = recoveries.get(dead_id)
    match decision.step:
        case RecoveryStep.DECLARED_DEAD if current and current.declared_at_ms >= decision.ts_ms:
            pass  # a replayed or duplicated declaration: that recovery is already under way
        case RecoveryStep.DECLARED_DEAD:
            record = executors.get(dead_id)
            if record is not None:
                executors[dead_id] = replace(
                    record, state=ExecutorState.DEAD, updated_ms=decision.ts_ms
                )
            recoveries[dead_id] = Recovery(
                dead_executor_id=dead_id,
                application_version=decision.application_version,
                state=RecoveryState.PENDING,
                declared_at_ms=decision.ts_ms,
                updated_ms=decision.ts_ms,
                reason=decision.reason,
            )
        case _ if current is None:
            pass  # a decision about a recovery this state never saw declared: nothing to update
        case RecoveryStep.SUCCEEDED:
            record = executors.get(dead_id)
            if record is not None and record.state is ExecutorState.DEAD:
                executors[dead_id] = replace(
                    record, state=ExecutorState.RECOVERED, updated_ms=decision.ts_ms
                )
            recoveries[dead_id] = _recovery_step(current, decision, RecoveryState.SUCCEEDED)
        case _:
            recoveries[dead_id] = _recovery_step(current, decision, _NEXT_STATE[decision.step])
    return replace(
        state,
        executors=executors,
        recoveries=recoveries,
        watermark_ms=max(state.watermark_ms, decision.ts_ms),
    )


_NEXT_STATE = {
    RecoveryStep.TARGET_CHOSEN: RecoveryState.IN_FLIGHT,
    RecoveryStep.SENT: RecoveryState.IN_FLIGHT,
    RecoveryStep.FAILED: RecoveryState.PENDING,
    RecoveryStep.STRANDED: RecoveryState.STRANDED,
    RecoveryStep.ABANDONED: RecoveryState.ABANDONED,
}


def _recovery_step(current: Recovery, decision: RecoveryDecision, state: RecoveryState) -> Recovery:
    if current.state in (RecoveryState.SUCCEEDED, RecoveryState.ABANDONED):
        return current  # a late or duplicated step cannot reopen a finished recovery
    match decision.step:
        case RecoveryStep.TARGET_CHOSEN:
            return replace(
                current,
                state=state,
                attempt=decision.attempt,
                target=decision.target,
                command_id=decision.command_id,
                chosen_at_ms=decision.ts_ms,
                sent_at_ms=None,
                updated_ms=decision.ts_ms,
                tried=_tried_with(current.tried, decision.target),
                reason=decision.reason,
            )
        case RecoveryStep.SENT:
            return replace(current, sent_at_ms=decision.ts_ms, updated_ms=decision.ts_ms)
        case RecoveryStep.FAILED:
            return replace(
                current,
                state=state,
                failed_at_ms=decision.ts_ms,
                updated_ms=decision.ts_ms,
                reason=decision.reason,
            )
        case _:
            return replace(current, state=state, updated_ms=decision.ts_ms, reason=decision.reason)


def _tried_with(tried: tuple[ExecutorId, ...], target: ExecutorId | None) -> tuple[ExecutorId, ...]:
    if target is None or target in tried:
        return tried
    return (*tried, target)


def prune(state: AppState, now_ms: int, retention_ms: int) -> AppState:
    """Forget finished business older than ``retention_ms``: recovered executors and finished
    recoveries. DBOS gives every process a new executor id, so without this the state would grow
    with every restart; the SQL store keeps the history."""
    horizon = now_ms - retention_ms
    finished = (RecoveryState.SUCCEEDED, RecoveryState.ABANDONED)
    recoveries = {
        k: r
        for k, r in state.recoveries.items()
        if not (r.state in finished and r.updated_ms < horizon)
    }
    executors = {
        k: e
        for k, e in state.executors.items()
        if not (e.state is ExecutorState.RECOVERED and e.updated_ms < horizon)
    }
    if len(recoveries) == len(state.recoveries) and len(executors) == len(state.executors):
        return state
    return replace(state, executors=executors, recoveries=recoveries)


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
