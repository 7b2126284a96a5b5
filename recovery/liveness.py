"""The liveness fold: an app's executors from the gateways' executor events.

Every fold is latest-wins by event time, so a record delivered twice, or a snapshot that repeats
what a connect already said, changes nothing. The recovery state machine that acts on this view is
``recovery.decisions``; the values are in ``recovery.state``.

Pure: no Faust, Kafka, asyncio or clock; ``now`` is never read here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from recovery.state import AppState, ExecutorRecord, ExecutorState
from streams.ids import ExecutorId, GatewayId
from streams.records import (
    CommandProgress,
    ExecutorConnected,
    ExecutorDisconnected,
    ExecutorEvent,
    GatewayHeartbeat,
    PollResult,
    SessionInfo,
)

STREAM_GAP_MS = 4_000
"""No event of an app for longer than this: no gateway could report its executors (a pod holding
sessions of the app reports them every 2 s). Kafka, or every gateway, was away; the policy's
clock stood still meanwhile (``recovery.policy.event_clock``: the same 4 s). The first event after
such a gap moves the executors' liveness clocks (last seen, and the disconnect time a grace period
runs from) forward by the gap: an executor is not found silent, or out of its grace, for the whole
outage before its gateway had a chance to report it again. Its order clock (``updated_ms``) and
its close time (crowds are told by when sessions closed, ``recovery.policy.CloseTimes``) stay."""


SEEN_REFRESH_MS = 10_000
"""A beat that lists nothing moves its pod's executors' ``last_seen_ms`` up only once one of them
is this far behind it (the store shows last seen at the projection's 10 s cadence anyway). What the
policy reads of a connected executor's liveness is its pod's, ``AppState.gateways_heard_ms``, moved
by every beat: so the app's executors mapping is not copied, and its 10,000 records are not
rebuilt, on every beat (they were most of an idle worker's CPU). Nor are they walked to find one
behind: the pod's floor (``AppState.gateways_seen_floor_ms``) says when one could be."""


def fold(state: AppState, event: ExecutorEvent) -> AppState:
    """Fold one executor event into the app's state (idempotent, latest wins by event time)."""
    gap_ms = event.ts_ms - state.watermark_ms
    if state.watermark_ms and gap_ms > STREAM_GAP_MS:
        state = replace(
            state, executors={k: _paused(r, gap_ms) for k, r in state.executors.items()}
        )
    heard = state.gateways_heard_ms
    floors = state.gateways_seen_floor_ms
    match event:
        case ExecutorConnected():
            executors = _on_connected(state.executors, event)
            floors = _lowered(floors, event)
        case ExecutorDisconnected():
            executors = _on_disconnected(state.executors, event, state.watermark_ms)
        case GatewayHeartbeat() if event.listed:
            executors = _on_heartbeat(state.executors, event)
            floors = _lowered(floors, event)
        case GatewayHeartbeat():
            floor = floors.get(event.gateway)
            if floor is not None and event.ts_ms - floor < SEEN_REFRESH_MS:
                executors = state.executors  # none of the pod's records can be due: no walk
            else:
                executors, floor = _seen_on_gateway(state.executors, event)
                floors = {**floors, event.gateway: floor}
        case CommandProgress() | PollResult():
            executors = state.executors
    if not isinstance(event, PollResult) and heard.get(event.gateway, -1) < event.ts_ms:
        heard = {**heard, event.gateway: event.ts_ms}
    return replace(
        state,
        executors=executors,
        watermark_ms=max(state.watermark_ms, event.ts_ms),
        gateways_heard_ms=heard,
        gateways_seen_floor_ms=floors,
    )


def _lowered(
    floors: Mapping[GatewayId, int], event: ExecutorConnected | GatewayHeartbeat
) -> Mapping[GatewayId, int]:
    """``floors`` kept a lower bound after ``event``, which may have set records of its pod as
    last seen at its own time (a connect, or a listing, held back while Kafka was away, can be
    older than a quiet beat that came before it)."""
    floor = floors.get(event.gateway)
    if floor is None or floor <= event.ts_ms:
        return floors
    return {**floors, event.gateway: event.ts_ms}


def _paused(record: ExecutorRecord, gap_ms: int) -> ExecutorRecord:
    """``record`` with its liveness clocks moved forward by ``gap_ms`` (see ``STREAM_GAP_MS``)."""

    def later(ms: int | None) -> int | None:
        return None if ms is None else ms + gap_ms

    last_seen_ms = record.last_seen_ms
    if record.state is ExecutorState.CONNECTED:
        last_seen_ms += gap_ms
    return replace(
        record, last_seen_ms=last_seen_ms, disconnected_at_ms=later(record.disconnected_at_ms)
    )


def _with(
    executors: Mapping[ExecutorId, ExecutorRecord], record: ExecutorRecord
) -> dict[ExecutorId, ExecutorRecord]:
    updated = dict(executors)
    updated[record.executor_id] = record
    return updated


def _connected_record(
    gateway: GatewayId, session: SessionInfo, ts_ms: int, previous: ExecutorRecord | None
) -> ExecutorRecord:
    return ExecutorRecord(
        info=session.info,
        gateway=gateway,
        conn_id=session.conn_id,
        state=ExecutorState.CONNECTED,
        connected_at_ms=session.connected_at_ms,
        last_seen_ms=ts_ms,
        updated_ms=ts_ms,
        closed_at_ms=None if previous is None else previous.closed_at_ms,
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
    return _with(executors, _connected_record(event.gateway, event.session, event.ts_ms, current))


def _on_disconnected(
    executors: Mapping[ExecutorId, ExecutorRecord],
    event: ExecutorDisconnected,
    watermark_ms: int,
) -> Mapping[ExecutorId, ExecutorRecord]:
    """A close, folded when it arrives. One that arrives more than ``STREAM_GAP_MS`` behind
    the app's newest event is late news (its pod held it while Kafka was away, and other events
    of the app got through first): its grace runs from that newest event's time, as it would
    have had it come in order before them (``_paused``), not from a close long past."""
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
            disconnected_at_ms=(
                watermark_ms if watermark_ms - event.ts_ms > STREAM_GAP_MS else event.ts_ms
            ),
            closed_at_ms=event.ts_ms,
            close_code=event.close_code,
            close_reason=event.close_reason,
            draining=event.draining,
            revoked=event.revoked,
        ),
    )


def _on_heartbeat(
    executors: Mapping[ExecutorId, ExecutorRecord], event: GatewayHeartbeat
) -> Mapping[ExecutorId, ExecutorRecord]:
    """A beat that lists its pod's sessions (or some of them: ``GatewayHeartbeat.lists``)."""
    updated = dict(executors)
    listed = set()
    for session in event.sessions:
        listed.add(session.info.executor_id)
        current = updated.get(session.info.executor_id)
        if current is None or _is_newer_session(current, session, event.ts_ms):
            updated[session.info.executor_id] = _connected_record(
                event.gateway, session, event.ts_ms, current
            )
        elif current.conn_id == session.conn_id and current.state is ExecutorState.CONNECTED:
            if current.last_seen_ms < event.ts_ms:  # else unchanged: keep the same record
                updated[current.executor_id] = replace(current, last_seen_ms=event.ts_ms)
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
            # Its pod's listing of its range omits it, yet its disconnect never reached us: heal.
            updated[record.executor_id] = replace(
                record,
                state=ExecutorState.DISCONNECTED,
                updated_ms=event.ts_ms,
                disconnected_at_ms=event.ts_ms,
                closed_at_ms=event.ts_ms,
                close_reason="session missing from its gateway's snapshot",
            )
    return updated


def _seen_on_gateway(
    executors: Mapping[ExecutorId, ExecutorRecord], event: GatewayHeartbeat
) -> tuple[Mapping[ExecutorId, ExecutorRecord], int]:
    """A beat that lists nothing: the pod is alive, and so are the sessions this state says it
    holds (a session it lost without its disconnect reaching us is found by its next listing).
    Their records are moved up together once one is ``SEEN_REFRESH_MS`` behind; else ``executors``
    itself comes back. Also the pod's new floor (``AppState.gateways_seen_floor_ms``): the oldest
    last seen among the records it holds now, at most the beat's time."""
    held = [
        record
        for record in executors.values()
        if record.gateway == event.gateway and record.state is ExecutorState.CONNECTED
    ]
    oldest = min((record.last_seen_ms for record in held), default=event.ts_ms)
    if event.ts_ms - oldest < SEEN_REFRESH_MS:
        return executors, min(oldest, event.ts_ms)
    updated = dict(executors)
    for record in held:
        if record.last_seen_ms < event.ts_ms:
            updated[record.executor_id] = replace(record, last_seen_ms=event.ts_ms)
    return updated, event.ts_ms


def _is_newer_session(current: ExecutorRecord, session: SessionInfo, ts_ms: int) -> bool:
    if current.conn_id == session.conn_id:
        return False
    return session.connected_at_ms > current.connected_at_ms and ts_ms >= current.updated_ms


def _lost_by_pod(record: ExecutorRecord, event: GatewayHeartbeat, listed: set[ExecutorId]) -> bool:
    return (
        record.gateway == event.gateway
        and record.state is ExecutorState.CONNECTED
        and record.executor_id not in listed
        and event.lists(record.executor_id)
        and event.ts_ms > record.updated_ms
    )
