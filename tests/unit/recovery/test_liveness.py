"""The liveness fold: idempotent, latest-wins by event time, and the recovery state machine."""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recovery.liveness import (
    AppState,
    ExecutorState,
    RecoveryState,
    decode_state,
    encode_state,
    fold,
    fold_decision,
)
from streams.ids import AppName, CommandId, ConnId, ExecutorId, GatewayId
from streams.records import (
    CommandProgress,
    CommandStatus,
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


# --- executor events -----------------------------------------------------------------------------


def test_connect_creates_a_connected_record() -> None:
    state = fold_all([connected(ts=T0, gateway="gw-2")])
    record = state.executors[A]
    assert record.state is ExecutorState.CONNECTED
    assert record.gateway == "gw-2"
    assert record.conn_id == "c1"
    assert record.info.application_version == "v1"
    assert (record.connected_at_ms, record.last_seen_ms, record.updated_ms) == (T0, T0, T0)
    assert state.live_executors() == [record]
    assert state.watermark_ms == T0


@pytest.mark.parametrize(
    "event",
    [
        connected(),
        disconnected(),
        heartbeat(T0 + 2_000, session()),
        heartbeat(T0 + 2_000),
    ],
    ids=["connect", "disconnect", "heartbeat", "empty heartbeat"],
)
def test_folding_an_event_twice_is_folding_it_once(event: ExecutorEvent) -> None:
    base = fold_all([connected()])
    once = fold(base, event)
    assert fold(once, event) == once


def test_late_connect_is_ignored() -> None:
    state = fold_all([connected(conn_id="c2", ts=T0 + 5_000)])
    after = fold(state, connected(conn_id="c1", ts=T0))
    assert after.executors == state.executors
    assert after.executors[A].conn_id == "c2"


def test_newer_connect_replaces_the_session() -> None:
    state = fold_all([connected(conn_id="c1", ts=T0), connected(conn_id="c2", ts=T0 + 10)])
    assert state.executors[A].conn_id == "c2"
    assert state.executors[A].connected_at_ms == T0 + 10


def test_reconnect_after_disconnect_is_connected_again() -> None:
    state = fold_all(
        [connected(ts=T0), disconnected(ts=T0 + 100), connected(conn_id="c2", ts=T0 + 200)]
    )
    record = state.executors[A]
    assert record.state is ExecutorState.CONNECTED
    assert record.conn_id == "c2"
    assert record.updated_ms == T0 + 200


def test_disconnect_marks_disconnected_with_close_details() -> None:
    state = fold_all([connected(ts=T0), disconnected(ts=T0 + 1_000, draining=True)])
    record = state.executors[A]
    assert record.state is ExecutorState.DISCONNECTED
    assert record.disconnected_at_ms == T0 + 1_000
    assert record.updated_ms == T0 + 1_000
    assert record.close_code == 1006
    assert record.close_reason == "gone"
    assert record.draining is True
    assert state.live_executors() == []


def test_draining_and_revoked_flags_are_false_for_an_ordinary_disconnect() -> None:
    state = fold_all([connected(), disconnected(draining=False)])
    assert state.executors[A].draining is False
    assert state.executors[A].revoked is False


def test_revoked_flag_is_carried() -> None:
    state = fold_all([connected(), disconnected(revoked=True)])
    assert state.executors[A].state is ExecutorState.DISCONNECTED
    assert state.executors[A].revoked is True


def test_disconnect_of_an_old_conn_id_is_ignored() -> None:
    state = fold_all([connected(conn_id="c1", ts=T0), connected(conn_id="c2", ts=T0 + 10)])
    after = fold(state, disconnected(conn_id="c1", ts=T0 + 20))
    assert after.executors[A].state is ExecutorState.CONNECTED
    assert after.executors[A].conn_id == "c2"
    assert after.watermark_ms == T0 + 20  # the clock still advances


def test_disconnect_older_than_the_last_change_is_ignored() -> None:
    state = fold_all([connected(conn_id="c1", ts=T0 + 500)])
    after = fold(state, disconnected(conn_id="c1", ts=T0 + 100))
    assert after.executors[A].state is ExecutorState.CONNECTED


def test_disconnect_of_an_unknown_executor_is_ignored() -> None:
    state = fold_all([disconnected(executor_id="ghost")])
    assert state.executors == {}
    assert state.watermark_ms == T0 + 1_000


def test_heartbeat_refreshes_last_seen_without_changing_updated() -> None:
    state = fold_all([connected(ts=T0), heartbeat(T0 + 2_000, session(connected_at=T0))])
    record = state.executors[A]
    assert record.last_seen_ms == T0 + 2_000
    assert record.updated_ms == T0
    assert record.state is ExecutorState.CONNECTED


def test_older_heartbeat_never_moves_last_seen_back() -> None:
    state = fold_all([connected(ts=T0), heartbeat(T0 + 4_000, session())])
    after = fold(state, heartbeat(T0 + 2_000, session()))
    assert after.executors[A].last_seen_ms == T0 + 4_000


def test_heartbeat_introduces_an_executor_whose_connect_was_missed() -> None:
    state = fold_all([heartbeat(T0 + 2_000, session("exec-b", "c9", T0 + 1_000))])
    record = state.executors[B]
    assert record.state is ExecutorState.CONNECTED
    assert record.conn_id == "c9"
    assert record.connected_at_ms == T0 + 1_000
    assert record.last_seen_ms == T0 + 2_000


def test_heartbeat_adopts_a_newer_session() -> None:
    state = fold_all([connected(conn_id="c1", ts=T0)])
    after = fold(state, heartbeat(T0 + 3_000, session(conn_id="c2", connected_at=T0 + 2_000)))
    record = after.executors[A]
    assert record.conn_id == "c2"
    assert record.connected_at_ms == T0 + 2_000
    assert record.state is ExecutorState.CONNECTED
    assert record.updated_ms == T0 + 3_000


def test_heartbeat_adopts_a_newer_session_of_a_disconnected_executor() -> None:
    state = fold_all([connected(conn_id="c1", ts=T0), disconnected(conn_id="c1", ts=T0 + 100)])
    after = fold(state, heartbeat(T0 + 3_000, session(conn_id="c2", connected_at=T0 + 2_000)))
    assert after.executors[A].state is ExecutorState.CONNECTED
    assert after.executors[A].conn_id == "c2"


def test_heartbeat_with_an_older_session_is_ignored() -> None:
    state = fold_all([connected(conn_id="c2", ts=T0 + 2_000)])
    after = fold(state, heartbeat(T0 + 3_000, session(conn_id="c1", connected_at=T0)))
    assert after.executors[A].conn_id == "c2"
    assert after.executors[A].last_seen_ms == T0 + 2_000


def test_heartbeat_does_not_revive_a_disconnected_session() -> None:
    state = fold_all([connected(conn_id="c1", ts=T0), disconnected(conn_id="c1", ts=T0 + 100)])
    # The gateway's snapshot was taken before the close: same conn_id, no resurrection.
    after = fold(state, heartbeat(T0 + 200, session(conn_id="c1", connected_at=T0)))
    assert after.executors[A].state is ExecutorState.DISCONNECTED


def test_session_missing_from_its_gateways_heartbeat_is_marked_disconnected() -> None:
    state = fold_all([connected("exec-a", "c1", T0), connected("exec-b", "c2", T0)])
    after = fold(state, heartbeat(T0 + 2_000, session("exec-b", "c2", T0)))
    lost = after.executors[A]
    assert lost.state is ExecutorState.DISCONNECTED
    assert lost.disconnected_at_ms == T0 + 2_000
    assert lost.updated_ms == T0 + 2_000
    assert lost.close_reason is not None
    assert "snapshot" in lost.close_reason
    assert after.executors[B].state is ExecutorState.CONNECTED


def test_heartbeat_of_another_gateway_does_not_disconnect_foreign_sessions() -> None:
    state = fold_all([connected("exec-a", "c1", T0, gateway="gw-1")])
    after = fold(state, heartbeat(T0 + 2_000, gateway="gw-2"))
    assert after.executors[A].state is ExecutorState.CONNECTED


def test_heartbeat_older_than_the_connect_does_not_disconnect_it() -> None:
    state = fold_all([connected("exec-a", "c1", T0 + 5_000)])
    after = fold(state, heartbeat(T0 + 1_000))  # snapshot taken before the connect
    assert after.executors[A].state is ExecutorState.CONNECTED


def test_command_progress_only_moves_the_clock() -> None:
    state = fold_all([connected()])
    progress = CommandProgress(
        app=APP,
        command_id=CommandId("c"),
        gateway=GatewayId("gw-1"),
        executor_id=A,
        status=CommandStatus.SENT,
        error=None,
        ts_ms=T0 + 9_000,
    )
    after = fold(state, progress)
    assert after.executors == state.executors
    assert after.watermark_ms == T0 + 9_000


def test_watermark_is_the_max_event_time() -> None:
    state = fold_all(
        [
            connected(ts=T0 + 5_000),
            disconnected(ts=T0 + 1_000),  # late, ignored, and does not move the clock back
            heartbeat(T0 + 3_000),
        ]
    )
    assert state.watermark_ms == T0 + 5_000
    assert fold(state, heartbeat(T0 + 7_000)).watermark_ms == T0 + 7_000


def test_fold_does_not_mutate_its_input() -> None:
    state = fold_all([connected()])
    before = dict(state.executors)
    fold(state, disconnected())
    assert state.executors == before
    assert state.executors[A].state is ExecutorState.CONNECTED


# --- recovery decisions --------------------------------------------------------------------------


def dead_state() -> AppState:
    state = fold_all([connected("exec-a", "c1", T0), disconnected("exec-a", "c1", T0 + 100)])
    return fold_decision(state, decision(RecoveryStep.DECLARED_DEAD, T0 + 3_100, reason="gone"))


def test_declared_dead_marks_executor_dead_and_opens_a_pending_recovery() -> None:
    state = dead_state()
    assert state.executors[A].state is ExecutorState.DEAD
    assert state.executors[A].updated_ms == T0 + 3_100
    recovery = state.recoveries[A]
    assert recovery.state is RecoveryState.PENDING
    assert recovery.declared_at_ms == T0 + 3_100
    assert recovery.application_version == "v1"
    assert recovery.reason == "gone"
    assert recovery.attempt == 0
    assert recovery.tried == ()
    assert state.watermark_ms == T0 + 3_100


def test_target_chosen_puts_the_recovery_in_flight_and_records_the_try() -> None:
    state = fold_decision(
        dead_state(),
        decision(RecoveryStep.TARGET_CHOSEN, T0 + 3_200, attempt=1, target=B, command_id="cmd-1"),
    )
    recovery = state.recoveries[A]
    assert recovery.state is RecoveryState.IN_FLIGHT
    assert recovery.attempt == 1
    assert recovery.target == B
    assert recovery.command_id == "cmd-1"
    assert recovery.chosen_at_ms == T0 + 3_200
    assert recovery.sent_at_ms is None
    assert recovery.tried == (B,)


def test_sent_records_the_send_time_and_stays_in_flight() -> None:
    state = fold_decision(
        dead_state(),
        decision(RecoveryStep.TARGET_CHOSEN, T0 + 3_200, attempt=1, target=B, command_id="cmd-1"),
    )
    state = fold_decision(
        state, decision(RecoveryStep.SENT, T0 + 3_300, attempt=1, target=B, command_id="cmd-1")
    )
    assert state.recoveries[A].state is RecoveryState.IN_FLIGHT
    assert state.recoveries[A].sent_at_ms == T0 + 3_300


def test_failed_returns_the_recovery_to_pending_and_a_new_choice_extends_tried() -> None:
    c = ExecutorId("exec-c")
    state = fold_decision(
        dead_state(),
        decision(RecoveryStep.TARGET_CHOSEN, T0 + 3_200, attempt=1, target=B, command_id="cmd-1"),
    )
    state = fold_decision(
        state,
        decision(
            RecoveryStep.FAILED, T0 + 4_000, attempt=1, target=B, command_id="cmd-1", reason="x"
        ),
    )
    recovery = state.recoveries[A]
    assert recovery.state is RecoveryState.PENDING
    assert recovery.failed_at_ms == T0 + 4_000
    assert recovery.reason == "x"
    state = fold_decision(
        state,
        decision(RecoveryStep.TARGET_CHOSEN, T0 + 5_000, attempt=2, target=c, command_id="cmd-2"),
    )
    assert state.recoveries[A].tried == (B, c)
    assert state.recoveries[A].attempt == 2
    # choosing an already-tried target again does not duplicate it
    state = fold_decision(
        state,
        decision(RecoveryStep.TARGET_CHOSEN, T0 + 6_000, attempt=3, target=B, command_id="cmd-3"),
    )
    assert state.recoveries[A].tried == (B, c)


def test_succeeded_marks_the_executor_recovered() -> None:
    state = fold_decision(
        dead_state(),
        decision(RecoveryStep.TARGET_CHOSEN, T0 + 3_200, attempt=1, target=B, command_id="cmd-1"),
    )
    state = fold_decision(
        state,
        decision(RecoveryStep.SUCCEEDED, T0 + 3_500, attempt=1, target=B, command_id="cmd-1"),
    )
    assert state.recoveries[A].state is RecoveryState.SUCCEEDED
    assert state.executors[A].state is ExecutorState.RECOVERED


def test_stranded_and_abandoned() -> None:
    stranded = fold_decision(dead_state(), decision(RecoveryStep.STRANDED, T0 + 3_200))
    assert stranded.recoveries[A].state is RecoveryState.STRANDED
    abandoned = fold_decision(stranded, decision(RecoveryStep.ABANDONED, T0 + 3_300))
    assert abandoned.recoveries[A].state is RecoveryState.ABANDONED


@pytest.mark.parametrize(
    "late_step",
    [RecoveryStep.FAILED, RecoveryStep.TARGET_CHOSEN, RecoveryStep.SENT, RecoveryStep.STRANDED],
)
def test_late_steps_after_success_do_not_reopen(late_step: RecoveryStep) -> None:
    state = fold_decision(
        dead_state(),
        decision(RecoveryStep.TARGET_CHOSEN, T0 + 3_200, attempt=1, target=B, command_id="cmd-1"),
    )
    state = fold_decision(
        state,
        decision(RecoveryStep.SUCCEEDED, T0 + 3_500, attempt=1, target=B, command_id="cmd-1"),
    )
    after = fold_decision(
        state, decision(late_step, T0 + 4_000, attempt=2, target=B, command_id="cmd-2")
    )
    assert after.recoveries[A] == state.recoveries[A]
    assert after.executors[A].state is ExecutorState.RECOVERED


def test_late_steps_after_abandon_do_not_reopen() -> None:
    state = fold_decision(dead_state(), decision(RecoveryStep.ABANDONED, T0 + 3_200))
    after = fold_decision(
        state,
        decision(RecoveryStep.TARGET_CHOSEN, T0 + 4_000, attempt=1, target=B, command_id="cmd-1"),
    )
    assert after.recoveries[A].state is RecoveryState.ABANDONED
    assert after.recoveries[A].target is None


def test_step_about_an_undeclared_recovery_is_ignored() -> None:
    state = fold_all([connected()])
    after = fold_decision(
        state,
        decision(RecoveryStep.TARGET_CHOSEN, T0 + 10, attempt=1, target=B, command_id="cmd-1"),
    )
    assert after.recoveries == {}
    assert after.executors == state.executors


def test_declared_dead_for_an_unknown_executor_still_opens_a_recovery() -> None:
    state = fold_decision(AppState(app=APP), decision(RecoveryStep.DECLARED_DEAD, T0))
    assert state.recoveries[A].state is RecoveryState.PENDING
    assert A not in state.executors


def test_success_does_not_mark_a_reconnected_executor_recovered() -> None:
    state = fold_decision(
        dead_state(),
        decision(RecoveryStep.TARGET_CHOSEN, T0 + 3_200, attempt=1, target=B, command_id="cmd-1"),
    )
    state = fold(state, connected("exec-a", "c2", T0 + 3_300))
    state = fold_decision(
        state,
        decision(RecoveryStep.SUCCEEDED, T0 + 3_500, attempt=1, target=B, command_id="cmd-1"),
    )
    assert state.executors[A].state is ExecutorState.CONNECTED


# --- table codec ---------------------------------------------------------------------------------


def test_encode_decode_state_round_trip() -> None:
    state = fold_decision(
        dead_state(),
        decision(RecoveryStep.TARGET_CHOSEN, T0 + 3_200, attempt=1, target=B, command_id="cmd-1"),
    )
    state = fold(state, connected("exec-b", "c2", T0 + 50, gateway="gw-2"))
    state = fold(state, disconnected("exec-b", "c2", T0 + 3_300, gateway="gw-2", draining=True))
    state = fold(state, connected("exec-d", "c4", T0 + 3_350))
    state = fold(state, disconnected("exec-d", "c4", T0 + 3_360, revoked=True))
    state = fold(state, connected("exec-c", "c3", T0 + 3_400, version="v2"))
    assert decode_state(encode_state(state)) == state


def test_encode_decode_empty_state() -> None:
    state = AppState(app=APP)
    assert decode_state(encode_state(state)) == state


# --- property: duplicates change nothing ---------------------------------------------------------

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


@settings(max_examples=200, deadline=None)
@given(st.lists(events, max_size=12))
def test_folding_each_event_twice_equals_folding_it_once(evs: list[ExecutorEvent]) -> None:
    once = fold_all(evs)
    twice = fold_all([e for e in evs for _ in range(2)])
    assert twice == once
    assert once.watermark_ms == max((e.ts_ms for e in evs), default=0)


@settings(max_examples=100, deadline=None)
@given(st.lists(events, max_size=12))
def test_state_codec_round_trips_any_folded_state(evs: list[ExecutorEvent]) -> None:
    state = fold_all(evs)
    assert decode_state(encode_state(state)) == state
