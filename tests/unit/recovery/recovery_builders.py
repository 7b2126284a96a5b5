"""Builders of executor events, recovery decisions and app states for the recovery unit tests,
and a hypothesis strategy of any sequence of executor events."""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce

from hypothesis import strategies as st

from recovery.decisions import fold_decision
from recovery.liveness import fold
from recovery.state import AppState
from streams.ids import AppName, CommandId, ConnId, ExecutorId, GatewayId
from streams.records import (
    ExecutorConnected,
    ExecutorDisconnected,
    ExecutorEvent,
    ExecutorInfo,
    GatewayHeartbeat,
    RecoveryDecision,
    RecoveryStep,
    SessionInfo,
)

T0 = 1_700_000_000_000
APP = AppName("orders")
A = ExecutorId("exec-a")
B = ExecutorId("exec-b")


def session(
    executor_id: str = "exec-a",
    conn_id: str = "c1",
    connected_at: int = T0,
    version: str = "v1",
) -> SessionInfo:
    return SessionInfo(
        info=ExecutorInfo(
            executor_id=ExecutorId(executor_id),
            application_version=version,
            hostname="host",
            metadata={"k": [1, 2]},
        ),
        conn_id=ConnId(conn_id),
        connected_at_ms=connected_at,
    )


def connected(
    executor_id: str = "exec-a",
    conn_id: str = "c1",
    ts: int = T0,
    gateway: str = "gw-1",
    connected_at: int | None = None,
    version: str = "v1",
) -> ExecutorConnected:
    return ExecutorConnected(
        app=APP,
        gateway=GatewayId(gateway),
        session=session(
            executor_id, conn_id, ts if connected_at is None else connected_at, version
        ),
        ts_ms=ts,
    )


def disconnected(
    executor_id: str = "exec-a",
    conn_id: str = "c1",
    ts: int = T0 + 1_000,
    gateway: str = "gw-1",
    draining: bool = False,
    revoked: bool = False,
) -> ExecutorDisconnected:
    return ExecutorDisconnected(
        app=APP,
        gateway=GatewayId(gateway),
        executor_id=ExecutorId(executor_id),
        conn_id=ConnId(conn_id),
        close_code=1006,
        close_reason="gone",
        draining=draining,
        ts_ms=ts,
        revoked=revoked,
    )


def heartbeat(ts: int, *sessions: SessionInfo, gateway: str = "gw-1") -> GatewayHeartbeat:
    return GatewayHeartbeat(app=APP, gateway=GatewayId(gateway), sessions=sessions, ts_ms=ts)


def decision(
    step: RecoveryStep,
    ts: int,
    *,
    dead: ExecutorId = A,
    attempt: int = 0,
    target: ExecutorId | None = None,
    command_id: str | None = None,
    reason: str = "why",
) -> RecoveryDecision:
    return RecoveryDecision(
        app=APP,
        dead_executor_id=dead,
        application_version="v1",
        step=step,
        reason=reason,
        ts_ms=ts,
        attempt=attempt,
        target=target,
        command_id=None if command_id is None else CommandId(command_id),
    )


def fold_all(events: Sequence[ExecutorEvent], state: AppState | None = None) -> AppState:
    return reduce(fold, events, state or AppState(app=APP))


def dead_state() -> AppState:
    state = fold_all([connected("exec-a", "c1", T0), disconnected("exec-a", "c1", T0 + 100)])
    return fold_decision(state, decision(RecoveryStep.DECLARED_DEAD, T0 + 3_100, reason="gone"))


# --- any sequence of executor events ------------------------------------------------------------

EXECUTORS = ["exec-a", "exec-b", "exec-c"]
CONNS = ["c1", "c2", "c3"]
GATEWAYS = ["gw-1", "gw-2"]
times = st.integers(min_value=0, max_value=20).map(lambda t: T0 + 1_000 * t)

# A session's facts are fixed when it opens: one conn_id always has the same connected_at and
# version (the gateway mints conn ids), so they are derived from the conn_id here.
CONNECTED_AT = {conn: T0 + 1_000 * i for i, conn in enumerate(CONNS)}
VERSION = {"c1": "v1", "c2": "v1", "c3": "v2"}


def fixed_session(executor_id: str, conn_id: str) -> SessionInfo:
    return session(executor_id, conn_id, CONNECTED_AT[conn_id], VERSION[conn_id])


sessions = st.builds(
    fixed_session, executor_id=st.sampled_from(EXECUTORS), conn_id=st.sampled_from(CONNS)
)
events = st.one_of(
    st.builds(
        lambda executor_id, conn_id, ts, gateway: connected(
            executor_id,
            conn_id,
            ts,
            gateway,
            connected_at=CONNECTED_AT[conn_id],
            version=VERSION[conn_id],
        ),
        st.sampled_from(EXECUTORS),
        st.sampled_from(CONNS),
        times,
        st.sampled_from(GATEWAYS),
    ),
    st.builds(
        disconnected,
        executor_id=st.sampled_from(EXECUTORS),
        conn_id=st.sampled_from(CONNS),
        ts=times,
        gateway=st.sampled_from(GATEWAYS),
        draining=st.booleans(),
        revoked=st.booleans(),
    ),
    st.builds(
        lambda ts, gw, ss: heartbeat(ts, *ss, gateway=gw),
        times,
        st.sampled_from(GATEWAYS),
        st.lists(sessions, max_size=3),
    ),
)
