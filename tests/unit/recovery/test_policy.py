"""The recovery policy: who is dead, who recovers them, retries, and the event clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce

from hypothesis import given, settings
from hypothesis import strategies as st

from recovery.liveness import fold
from recovery.policy import Plan, RecoveryTimings, event_clock, on_progress, plan, wake_at_ms
from recovery.state import AppState, ExecutorRecord, ExecutorState, RecoveryState
from streams.ids import AppName, CommandId, ConnId, ExecutorId, GatewayId
from streams.records import (
    CommandProgress,
    CommandStatus,
    ExecutorConnected,
    ExecutorDisconnected,
    ExecutorEvent,
    ExecutorInfo,
    GatewayHeartbeat,
    RecoverExecutor,
    RecoveryStep,
    SessionInfo,
)

T0 = 1_700_000_000_000
APP = AppName("orders")
TIMINGS = RecoveryTimings()
A, B, C, D = (ExecutorId(f"exec-{x}") for x in "abcd")


def session(executor_id: str, conn_id: str, connected_at: int, version: str = "v1") -> SessionInfo:
    return SessionInfo(
        info=ExecutorInfo(
            executor_id=ExecutorId(executor_id), application_version=version, hostname="h"
        ),
        conn_id=ConnId(conn_id),
        connected_at_ms=connected_at,
    )


def connected(
    executor_id: str,
    ts: int = T0,
    *,
    conn_id: str | None = None,
    version: str = "v1",
    gateway: str = "gw-1",
) -> ExecutorConnected:
    return ExecutorConnected(
        app=APP,
        gateway=GatewayId(gateway),
        session=session(executor_id, conn_id or f"{executor_id}-c", ts, version),
        ts_ms=ts,
    )


def disconnected(
    executor_id: str,
    ts: int,
    *,
    conn_id: str | None = None,
    draining: bool = False,
    gateway: str = "gw-1",
    revoked: bool = False,
    close_code: int | None = 1006,
) -> ExecutorDisconnected:
    return ExecutorDisconnected(
        app=APP,
        gateway=GatewayId(gateway),
        executor_id=ExecutorId(executor_id),
        conn_id=ConnId(conn_id or f"{executor_id}-c"),
        close_code=close_code,
        close_reason="lost",
        draining=draining,
        ts_ms=ts,
        revoked=revoked,
    )


HEARTBEAT_MS = 2_000
"""A live pod reports its sessions this often: a stream of its beats has no gap
(``recovery.liveness.STREAM_GAP_MS``)."""


def beats_until(state: AppState, ts: int) -> list[int]:
    """The times of a pod's beats after the newest event of ``state`` up to ``ts``."""
    return [*range(state.watermark_ms + HEARTBEAT_MS, ts, HEARTBEAT_MS), ts]


def beat(state: AppState, ts: int) -> AppState:
    """Every gateway reports every connected session, every 2 s up to ``ts``: all live executors
    are seen at ``ts``."""
    for at in beats_until(state, ts):
        state = beat_once(state, at)
    return state


def beat_once(state: AppState, ts: int) -> AppState:
    by_gateway: dict[GatewayId, list[SessionInfo]] = {}
    for record in state.executors.values():
        if record.state is ExecutorState.CONNECTED:
            by_gateway.setdefault(record.gateway, []).append(
                SessionInfo(
                    info=record.info, conn_id=record.conn_id, connected_at_ms=record.connected_at_ms
                )
            )
    for gateway, sessions in by_gateway.items():
        state = fold(
            state, GatewayHeartbeat(app=APP, gateway=gateway, sessions=tuple(sessions), ts_ms=ts)
        )
    return state


def fold_all(events: Sequence[ExecutorEvent], state: AppState | None = None) -> AppState:
    return reduce(fold, events, state or AppState(app=APP))


def progress(
    command: RecoverExecutor | str, status: CommandStatus, ts: int, error: str | None = None
) -> CommandProgress:
    command_id = command if isinstance(command, str) else command.command_id
    return CommandProgress(
        app=APP,
        command_id=CommandId(command_id),
        gateway=GatewayId("gw-1"),
        executor_id=B,
        status=status,
        error=error,
        ts_ms=ts,
    )


def steps(result: Plan) -> list[tuple[ExecutorId, RecoveryStep]]:
    return [(d.dead_executor_id, d.step) for d in result.decisions]


def a_dies_with_b_alive() -> tuple[AppState, int]:
    """A and B connected at T0, A's session closes at T0 + 1 s; returns the state and that time."""
    gone = T0 + 1_000
    return fold_all([connected("exec-a"), connected("exec-b"), disconnected("exec-a", gone)]), gone


def in_flight_to_b() -> tuple[Plan, int]:
    state, gone = a_dies_with_b_alive()
    now = gone + TIMINGS.isolated_grace_ms
    result = plan(state, now, TIMINGS)
    assert result.commands[0].target == B
    return result, now


# --- declaring the dead ---------------------------------------------------------------------------


def test_not_dead_within_the_grace_period() -> None:
    state, gone = a_dies_with_b_alive()
    result = plan(state, gone + 1_700, TIMINGS)
    assert result.decisions == ()
    assert result.commands == ()
    assert result.state.executors[A].state is ExecutorState.DISCONNECTED
    assert plan(state, gone + TIMINGS.isolated_grace_ms - 1, TIMINGS).decisions == ()


def test_dead_after_the_grace_period_and_recovered_by_a_live_executor() -> None:
    state, gone = a_dies_with_b_alive()
    now = gone + 1_800
    result = plan(state, now, TIMINGS)
    assert steps(result) == [(A, RecoveryStep.DECLARED_DEAD), (A, RecoveryStep.TARGET_CHOSEN)]
    declared, chosen = result.decisions
    assert declared.ts_ms == now
    assert declared.application_version == "v1"
    assert "1006" in declared.reason
    assert "alone" in declared.reason
    assert "1.8 s" in declared.reason
    assert chosen.target == B
    assert chosen.attempt == 1
    assert result.state.executors[A].state is ExecutorState.DEAD
    assert result.state.recoveries[A].state is RecoveryState.IN_FLIGHT
    (command,) = result.commands
    assert command.target == B
    assert command.target_gateway == "gw-1"
    assert command.dead_executor_id == A
    assert command.app == APP
    assert command.command_id == chosen.command_id
    assert command.issued_at_ms == now
    assert command.timeout_ms == TIMINGS.command_timeout_ms


def test_grace_is_configurable() -> None:
    state, gone = a_dies_with_b_alive()
    timings = RecoveryTimings(grace_ms=500)
    assert plan(state, gone + 499, timings).decisions == ()
    assert steps(plan(state, gone + 500, timings))[0] == (A, RecoveryStep.DECLARED_DEAD)


def test_draining_disconnect_gets_the_longer_drain_grace() -> None:
    gone = T0 + 1_000
    state = fold_all(
        [connected("exec-a"), connected("exec-b"), disconnected("exec-a", gone, draining=True)]
    )
    for now in (gone + TIMINGS.grace_ms, gone + TIMINGS.drain_grace_ms - 1):
        # B keeps heartbeating so only A's fate is in question.
        assert plan(beat(state, now), now, TIMINGS).decisions == ()
    now = gone + TIMINGS.drain_grace_ms
    result = plan(beat(state, now), now, TIMINGS)
    assert steps(result)[0] == (A, RecoveryStep.DECLARED_DEAD)
    assert "drain" in result.decisions[0].reason


def test_a_revoked_session_is_never_declared_dead() -> None:
    gone = T0 + 1_000
    state = fold_all(
        [connected("exec-a"), connected("exec-b"), disconnected("exec-a", gone, revoked=True)]
    )
    for now in (gone + TIMINGS.grace_ms, gone + TIMINGS.drain_grace_ms, gone + 3_600_000):
        result = plan(beat(state, now), now, TIMINGS)
        assert result.decisions == ()
        assert result.commands == ()
    assert A not in plan(state, gone + 3_600_000, TIMINGS).state.recoveries


# --- isolated deaths and crowds ------------------------------------------------------------------


def first_dead_at(state: AppState, start: int, until: int, step: int = 10) -> int | None:
    """The first time from ``start`` (by ``step`` ms) at which the policy declares A dead."""
    for now in range(start, until, step):
        if (A, RecoveryStep.DECLARED_DEAD) in steps(plan(beat(state, now), now, TIMINGS)):
            return now
    return None


def test_a_lone_abnormal_close_gets_the_short_grace() -> None:
    state, gone = a_dies_with_b_alive()
    assert first_dead_at(state, gone, gone + 5_000, step=1) == gone + TIMINGS.isolated_grace_ms
    assert TIMINGS.isolated_grace_ms == 1_800
    assert TIMINGS.crowd_window_ms == 1_000


def test_a_lone_abnormal_close_wakes_the_agent_at_the_end_of_its_grace() -> None:
    state, gone = a_dies_with_b_alive()
    at = wake_at_ms(disconnected("exec-a", gone), TIMINGS)
    assert at == first_dead_at(state, gone, gone + 5_000, step=1) == gone + 1_800


def test_a_close_wakes_the_agent_no_later_than_the_policy_declares_it_dead() -> None:
    # The wake-up only moves when ``plan`` runs: at it, a crowd (or a clean close) is not dead
    # yet, and the tick declares it at the end of its longer grace, as before.
    gone = T0 + 1_000
    crowd = fold_all(
        [
            connected("exec-a"),
            connected("exec-b"),
            connected("exec-c"),
            disconnected("exec-a", gone),
            disconnected("exec-b", gone + 20, gateway="gw-2"),
        ]
    )
    at = wake_at_ms(disconnected("exec-a", gone), TIMINGS)
    assert at is not None
    assert plan(beat(crowd, at), at, TIMINGS).decisions == ()
    assert first_dead_at(crowd, gone, gone + 5_000, step=1) == gone + TIMINGS.grace_ms
    clean = disconnected("exec-a", gone, close_code=1000)
    assert wake_at_ms(clean, TIMINGS) == gone + TIMINGS.grace_ms
    draining = disconnected("exec-a", gone, draining=True)
    assert wake_at_ms(draining, TIMINGS) == gone + TIMINGS.drain_grace_ms
    assert wake_at_ms(disconnected("exec-a", gone, revoked=True), TIMINGS) is None


def test_a_failed_try_wakes_the_agent_at_the_end_of_its_backoff() -> None:
    result, now = in_flight_to_b()
    failed = plan(fold(result.state, disconnected("exec-b", now + 100)), now + 200, TIMINGS)
    (decision,) = failed.decisions
    assert decision.step is RecoveryStep.FAILED
    at = wake_at_ms(decision, TIMINGS)
    assert at == now + 200 + TIMINGS.retry_backoff_ms
    assert wake_at_ms(result.decisions[0], TIMINGS) is None  # declared dead: nothing to time


def test_a_reconnect_a_second_after_a_lone_close_is_never_recovered() -> None:
    # DBOS reconnects 1 s after a close; Baton sees the new session well inside the short grace.
    state, gone = a_dies_with_b_alive()
    back = fold(state, connected("exec-a", gone + 1_400, conn_id="a-2"))
    assert first_dead_at(back, gone, gone + 60_000, step=100) is None
    assert back.executors[A].state is ExecutorState.CONNECTED


def test_closes_of_several_executors_together_are_a_crowd_with_the_longer_grace() -> None:
    gone = T0 + 1_000
    state = fold_all(
        [
            connected("exec-a"),
            connected("exec-b"),
            connected("exec-c"),
            disconnected("exec-a", gone),
            disconnected("exec-b", gone + 20, gateway="gw-2"),
        ]
    )
    dead_at = first_dead_at(state, gone, gone + 5_000, step=1)
    assert dead_at == gone + TIMINGS.grace_ms
    declared = plan(state, gone + TIMINGS.grace_ms, TIMINGS).decisions[0]
    assert "1 other session(s)" in declared.reason
    assert "3.0 s" in declared.reason


def test_a_crowd_member_that_reconnected_still_makes_a_crowd() -> None:
    # HAProxy restarts: A and B drop together, B is back at once, A's first try fails (the
    # balancer is not up yet) and it comes back later: A still gets the crowd's grace.
    gone = T0 + 1_000
    state = fold_all(
        [
            connected("exec-a"),
            connected("exec-b"),
            connected("exec-c"),
            disconnected("exec-a", gone),
            disconnected("exec-b", gone + 5),
            connected("exec-b", gone + 1_100, conn_id="b-2"),
        ]
    )
    assert state.executors[B].state is ExecutorState.CONNECTED
    assert state.executors[B].closed_at_ms == gone + 5
    assert first_dead_at(state, gone, gone + 5_000) == gone + TIMINGS.grace_ms


def test_the_crowd_window_counts_closes_before_and_after_up_to_its_edge() -> None:
    gone = T0 + 10_000
    window = TIMINGS.crowd_window_ms
    for offset, crowd in (
        (-window, True),
        (window, True),
        (-window - 1, False),
        (window + 1, False),
    ):
        state = fold_all(
            [
                connected("exec-a"),
                connected("exec-b"),
                connected("exec-c"),
                disconnected("exec-b", gone + offset),
                disconnected("exec-a", gone),
            ]
        )
        expected = TIMINGS.grace_ms if crowd else TIMINGS.isolated_grace_ms
        assert first_dead_at(state, gone, gone + 5_000, step=1) == gone + expected, offset


def test_a_clean_close_gets_the_longer_grace_even_alone() -> None:
    # A close frame (1000) may be the client's own reconnect (DBOS closes after a lost pong).
    gone = T0 + 1_000
    state = fold_all(
        [connected("exec-a"), connected("exec-b"), disconnected("exec-a", gone, close_code=1000)]
    )
    assert first_dead_at(state, gone, gone + 5_000) == gone + TIMINGS.grace_ms


def test_a_close_healed_from_a_snapshot_gets_the_longer_grace() -> None:
    # The disconnect record was lost; the pod's snapshot no longer lists A (no close code).
    state = fold_all([connected("exec-a"), connected("exec-b")])
    healed_at = T0 + 2_000
    state = fold(
        state,
        GatewayHeartbeat(
            app=APP,
            gateway=GatewayId("gw-1"),
            sessions=(session("exec-b", "exec-b-c", T0),),
            ts_ms=healed_at,
        ),
    )
    assert state.executors[A].state is ExecutorState.DISCONNECTED
    assert first_dead_at(state, healed_at, healed_at + 5_000) == healed_at + TIMINGS.grace_ms


def test_the_isolated_grace_never_exceeds_the_grace() -> None:
    state, gone = a_dies_with_b_alive()
    timings = RecoveryTimings(grace_ms=500, isolated_grace_ms=1_500)
    assert plan(state, gone + 499, timings).decisions == ()
    assert steps(plan(state, gone + 500, timings))[0] == (A, RecoveryStep.DECLARED_DEAD)
    timings = RecoveryTimings(isolated_grace_ms=700)
    assert plan(state, gone + 699, timings).decisions == ()
    assert steps(plan(state, gone + 700, timings))[0] == (A, RecoveryStep.DECLARED_DEAD)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=-3_000, max_value=3_000), max_size=4))
def test_more_closes_nearby_never_shorten_the_wait(offsets: list[int]) -> None:
    gone = T0 + 10_000
    others = [f"exec-x{i}" for i in range(len(offsets))]
    events: list[ExecutorEvent] = [connected("exec-a"), connected("exec-b")]
    events += [connected(x) for x in others]
    events += [disconnected(x, gone + o) for x, o in zip(others, offsets, strict=True)]
    state = fold_all([*events, disconnected("exec-a", gone)])
    near = any(abs(o) <= TIMINGS.crowd_window_ms for o in offsets)
    expected = TIMINGS.grace_ms if near else TIMINGS.isolated_grace_ms
    assert first_dead_at(state, gone, gone + 5_000, step=50) == gone + expected


def test_connected_but_silent_past_the_liveness_timeout_is_dead() -> None:
    state = fold_all([connected("exec-a", gateway="gw-1"), connected("exec-b", gateway="gw-2")])
    timeout = TIMINGS.liveness_timeout_ms
    # Only gw-2 keeps reporting its session; gw-1 (and A with it) went silent.
    for at in beats_until(state, T0 + timeout - 1_000):
        state = fold(
            state,
            GatewayHeartbeat(
                app=APP,
                gateway=GatewayId("gw-2"),
                sessions=(session("exec-b", "exec-b-c", T0),),
                ts_ms=at,
            ),
        )
    assert plan(state, T0 + timeout - 1, TIMINGS).decisions == ()
    result = plan(state, T0 + timeout, TIMINGS)
    assert steps(result) == [(A, RecoveryStep.DECLARED_DEAD), (A, RecoveryStep.TARGET_CHOSEN)]
    assert "silent" in result.decisions[0].reason
    assert result.commands[0].target == B


def test_heartbeats_keep_a_connected_executor_alive() -> None:
    state = fold_all([connected("exec-a")])
    for t in range(0, 60_000, 2_000):
        state = beat(state, T0 + t)
        result = plan(state, T0 + t + 1_000, TIMINGS)
        assert result.decisions == ()
        state = result.state
    assert state.executors[A].state is ExecutorState.CONNECTED


def test_an_executor_is_declared_dead_once() -> None:
    state, gone = a_dies_with_b_alive()
    result = plan(state, gone + 3_000, TIMINGS)
    again = plan(result.state, gone + 3_500, TIMINGS)
    assert (A, RecoveryStep.DECLARED_DEAD) not in steps(again)


# --- choosing a target ----------------------------------------------------------------------------


def test_only_an_executor_of_the_same_version_is_chosen_else_stranded_once() -> None:
    gone = T0 + 1_000
    state = fold_all(
        [connected("exec-a"), connected("exec-b", version="v2"), disconnected("exec-a", gone)]
    )
    now = gone + 3_000
    result = plan(state, now, TIMINGS)
    assert steps(result) == [(A, RecoveryStep.DECLARED_DEAD), (A, RecoveryStep.STRANDED)]
    assert result.commands == ()
    assert "'v1'" in result.decisions[1].reason
    assert result.state.recoveries[A].state is RecoveryState.STRANDED
    state = result.state
    for later in range(1, 6):
        now += 2_000 * later
        state = beat(state, now)
        again = plan(state, now, TIMINGS)
        assert again.decisions == ()  # stranded is said once, not on every tick
        assert again.commands == ()
        state = again.state

    # A v1 executor connects: the stranded recovery goes to it.
    state = fold(state, connected("exec-c", now + 100, version="v1"))
    result = plan(state, now + 200, TIMINGS)
    assert steps(result) == [(A, RecoveryStep.TARGET_CHOSEN)]
    (command,) = result.commands
    assert command.target == C
    assert result.state.recoveries[A].state is RecoveryState.IN_FLIGHT


def test_a_reconnected_executor_is_abandoned_and_never_commanded() -> None:
    gone = T0 + 1_000
    state = fold_all([connected("exec-a"), disconnected("exec-a", gone)])
    result = plan(state, gone + 3_000, TIMINGS)
    assert steps(result) == [(A, RecoveryStep.DECLARED_DEAD), (A, RecoveryStep.STRANDED)]
    back = gone + 3_500
    state = fold(result.state, connected("exec-a", back, conn_id="a-2"))
    state = fold(state, connected("exec-b", back + 1))  # a candidate appears too
    result = plan(state, back + 10, TIMINGS)
    assert steps(result) == [(A, RecoveryStep.ABANDONED)]
    assert result.commands == ()
    assert result.state.recoveries[A].state is RecoveryState.ABANDONED
    state = result.state
    for t in range(1, 5):
        state = beat(state, back + 2_000 * t)
        later = plan(state, back + 2_000 * t, TIMINGS)
        assert later.decisions == ()
        assert later.commands == ()
        state = later.state


def test_a_reconnect_during_retry_backoff_abandons_the_recovery() -> None:
    result, now = in_flight_to_b()
    state = fold(result.state, disconnected("exec-b", now + 100))
    failed = plan(state, now + 200, TIMINGS)
    assert (A, RecoveryStep.FAILED) in steps(failed)
    state = fold(failed.state, connected("exec-a", now + 300, conn_id="a-2"))
    state = fold(state, connected("exec-c", now + 300))
    result = plan(state, now + 200 + TIMINGS.retry_backoff_ms, TIMINGS)
    assert (A, RecoveryStep.ABANDONED) in steps(result)
    assert all(c.dead_executor_id != A for c in result.commands)


def test_in_flight_target_disconnect_fails_then_retries_another_after_backoff() -> None:
    state, gone = a_dies_with_b_alive()
    state = fold(state, connected("exec-c", gone + 500))
    now = gone + 3_000
    result = plan(state, now, TIMINGS)
    # B connected first, so among equals it is preferred
    assert result.commands[0].target == B
    first_id = result.commands[0].command_id

    state = fold(result.state, disconnected("exec-b", now + 100))
    failed = plan(state, now + 200, TIMINGS)
    assert steps(failed) == [(A, RecoveryStep.FAILED)]
    assert failed.commands == ()
    assert "disconnected" in failed.decisions[0].reason
    assert failed.state.recoveries[A].state is RecoveryState.PENDING

    within = plan(failed.state, now + 200 + TIMINGS.retry_backoff_ms - 1, TIMINGS)
    assert within.decisions == ()
    retry = plan(failed.state, now + 200 + TIMINGS.retry_backoff_ms, TIMINGS)
    assert steps(retry) == [(A, RecoveryStep.TARGET_CHOSEN)]
    (command,) = retry.commands
    assert command.target == C
    assert command.command_id != first_id
    assert retry.decisions[0].attempt == 2
    assert retry.state.recoveries[A].tried == (B, C)


def test_command_timeout_fails_and_the_retry_prefers_an_untried_target() -> None:
    result, now = in_flight_to_b()
    state = fold(result.state, connected("exec-c", now + 500))  # joins later than B
    state = beat(state, now + 1_000)
    deadline = now + TIMINGS.command_timeout_ms
    state = beat(state, deadline - 1_000)
    assert plan(state, deadline - 1, TIMINGS).decisions == ()
    failed = plan(state, deadline, TIMINGS)
    assert steps(failed) == [(A, RecoveryStep.FAILED)]
    assert "no answer" in failed.decisions[0].reason
    retry = plan(failed.state, deadline + TIMINGS.retry_backoff_ms, TIMINGS)
    assert [c.target for c in retry.commands] == [C]  # B is still live but was tried


def test_a_tried_target_is_reused_when_it_is_the_only_one() -> None:
    result, now = in_flight_to_b()
    deadline = now + TIMINGS.command_timeout_ms
    state = beat(result.state, deadline - 1_000)
    failed = plan(state, deadline, TIMINGS)
    retry = plan(failed.state, deadline + TIMINGS.retry_backoff_ms, TIMINGS)
    assert [c.target for c in retry.commands] == [B]
    assert retry.decisions[0].attempt == 2


def test_the_dead_executor_is_never_its_own_target() -> None:
    gone = T0 + 1_000
    state = fold_all([connected("exec-a"), disconnected("exec-a", gone)])
    result = plan(state, gone + 3_000, TIMINGS)
    assert result.commands == ()
    state = fold(result.state, connected("exec-a", gone + 3_100, conn_id="a-2"))
    for t in range(5):
        result = plan(state, gone + 3_200 + t * 1_000, TIMINGS)
        assert all(c.target != A for c in result.commands)
        state = result.state


def test_plan_over_many_executors_spreads_load() -> None:
    dead = [f"dead-{i}" for i in range(4)]
    live = ["live-1", "live-2"]
    gone = T0 + 1_000
    state = fold_all([connected(x) for x in dead + live] + [disconnected(x, gone) for x in dead])
    result = plan(state, gone + 3_000, TIMINGS)
    targets = [c.target for c in result.commands]
    assert len(targets) == 4
    assert sorted(targets) == ["live-1", "live-1", "live-2", "live-2"]
    assert {c.dead_executor_id for c in result.commands} == set(dead)


def test_the_least_loaded_executor_is_chosen() -> None:
    gone = T0 + 1_000
    state = fold_all(
        [
            connected("exec-a"),
            connected("busy"),
            connected("idle", T0 + 500),
            disconnected("exec-a", gone),
        ]
    )
    first = plan(state, gone + 3_000, TIMINGS)
    assert [c.target for c in first.commands] == ["busy"]  # longest connected, all idle
    # Now "busy" holds one in-flight recovery; the next dead executor goes to "idle".
    state = fold(first.state, connected("exec-d", gone + 3_100))
    state = fold(state, disconnected("exec-d", gone + 3_200))
    state = beat(state, gone + 6_000)
    second = plan(state, gone + 6_200, TIMINGS)
    assert [(c.dead_executor_id, c.target) for c in second.commands] == [(D, "idle")]


# --- command progress -----------------------------------------------------------------------------


def test_progress_sent_then_succeeded() -> None:
    result, now = in_flight_to_b()
    (command,) = result.commands
    sent = on_progress(result.state, progress(command, CommandStatus.SENT, now + 10))
    assert steps(sent) == [(A, RecoveryStep.SENT)]
    assert sent.state.recoveries[A].sent_at_ms == now + 10
    assert sent.state.recoveries[A].state is RecoveryState.IN_FLIGHT
    assert sent.commands == ()

    duplicate = on_progress(sent.state, progress(command, CommandStatus.SENT, now + 11))
    assert duplicate.decisions == ()
    assert duplicate.state == sent.state

    done = on_progress(sent.state, progress(command, CommandStatus.SUCCEEDED, now + 20))
    assert steps(done) == [(A, RecoveryStep.SUCCEEDED)]
    assert done.decisions[0].target == B
    assert done.decisions[0].command_id == command.command_id
    assert done.state.recoveries[A].state is RecoveryState.SUCCEEDED
    assert done.state.executors[A].state is ExecutorState.RECOVERED

    again = on_progress(done.state, progress(command, CommandStatus.SUCCEEDED, now + 21))
    assert again.decisions == ()
    assert again.state == done.state
    # and nothing more happens to a recovered executor
    assert plan(beat(done.state, now + 2_000), now + 2_000, TIMINGS).decisions == ()


def test_progress_failed_fails_the_try_with_the_executors_error() -> None:
    result, now = in_flight_to_b()
    (command,) = result.commands
    failed = on_progress(
        result.state, progress(command, CommandStatus.FAILED, now + 10, error="db down")
    )
    assert steps(failed) == [(A, RecoveryStep.FAILED)]
    assert "db down" in failed.decisions[0].reason
    assert failed.state.recoveries[A].state is RecoveryState.PENDING
    assert failed.state.recoveries[A].failed_at_ms == now + 10


def test_progress_for_a_stale_or_unknown_command_is_ignored() -> None:
    result, now = in_flight_to_b()
    (old,) = result.commands
    state = fold(result.state, connected("exec-c", now + 1))
    state = fold(state, disconnected("exec-b", now + 2))
    failed = plan(state, now + 3, TIMINGS)
    retry = plan(failed.state, now + 3 + TIMINGS.retry_backoff_ms, TIMINGS)
    (new,) = retry.commands
    assert new.command_id != old.command_id
    for status in CommandStatus:
        stale = on_progress(retry.state, progress(old, status, now + 5_000))
        assert stale.decisions == ()
        assert stale.state == retry.state
    unknown = on_progress(retry.state, progress("recover/x/y/1/1", CommandStatus.SUCCEEDED, now))
    assert unknown.decisions == ()


def test_progress_after_the_try_timed_out_is_ignored() -> None:
    result, now = in_flight_to_b()
    (command,) = result.commands
    deadline = now + TIMINGS.command_timeout_ms
    failed = plan(beat(result.state, deadline - 1_000), deadline, TIMINGS)
    late = on_progress(failed.state, progress(command, CommandStatus.SUCCEEDED, deadline + 1))
    assert late.decisions == ()
    assert late.state.recoveries[A].state is RecoveryState.PENDING


# --- determinism and the event clock --------------------------------------------------------------


def test_command_ids_are_deterministic() -> None:
    state, gone = a_dies_with_b_alive()
    first = plan(state, gone + 3_000, TIMINGS)
    second = plan(state, gone + 3_000, TIMINGS)
    assert first == second
    assert [c.command_id for c in first.commands] == [c.command_id for c in second.commands]
    (command,) = first.commands
    declared_at = first.state.recoveries[A].declared_at_ms
    assert str(A) in command.command_id
    assert command.command_id.endswith(f"/{declared_at}/1")


def test_plan_does_not_mutate_its_input() -> None:
    state, gone = a_dies_with_b_alive()
    executors, recoveries = dict(state.executors), dict(state.recoveries)
    plan(state, gone + 3_000, TIMINGS)
    assert state.executors == executors
    assert state.recoveries == recoveries


def test_event_clock_is_the_wall_clock_while_events_are_fresh() -> None:
    state = fold_all([connected("exec-a", T0)])
    assert event_clock(state, T0 + 100, TIMINGS) == T0 + 100
    assert event_clock(state, T0 - 50, TIMINGS) == T0 - 50
    assert event_clock(state, T0 + TIMINGS.clock_lead_ms, TIMINGS) == T0 + TIMINGS.clock_lead_ms


def test_event_clock_stops_at_the_watermark_when_events_stop() -> None:
    state = fold_all([connected("exec-a", T0)])
    lead = TIMINGS.clock_lead_ms
    for wall in (T0 + lead + 1, T0 + 3_600_000):
        now = event_clock(state, wall, TIMINGS)
        assert now <= T0 + lead
        assert now >= state.watermark_ms
    custom = RecoveryTimings(clock_lead_ms=10)
    assert event_clock(state, T0 + 3_600_000, custom) <= T0 + 10


def test_event_clock_advances_again_with_the_events() -> None:
    state = fold_all([connected("exec-a", T0)])
    stalled = event_clock(state, T0 + 60_000, TIMINGS)
    state = beat(state, T0 + 59_000)
    assert event_clock(state, T0 + 60_000, TIMINGS) == T0 + 60_000
    assert stalled < T0 + 60_000


def test_a_backlog_reconnect_is_seen_before_its_grace_period_ends() -> None:
    # The worker replays a backlog long after it happened: A closed, then reconnected 2 s later.
    gone = T0 + 1_000
    wall = T0 + 600_000
    state = fold_all([connected("exec-a"), connected("exec-b"), disconnected("exec-a", gone)])
    result = plan(state, event_clock(state, wall, TIMINGS), TIMINGS)
    assert result.decisions == ()
    state = fold(result.state, connected("exec-a", gone + 2_000, conn_id="a-2"))
    result = plan(state, event_clock(state, wall, TIMINGS), TIMINGS)
    assert result.decisions == ()
    assert result.state.executors[A].state is ExecutorState.CONNECTED


def test_an_executor_is_not_silent_while_its_gateway_still_speaks() -> None:
    """Issue 12: a gateway pod busy with 10,000 sessions ran its heartbeats late while its
    connects still flowed, and the worker declared its live executors dead for silence."""
    state = fold_all([connected("exec-a", gateway="gw-1"), connected("exec-b", gateway="gw-1")])
    timeout = TIMINGS.liveness_timeout_ms
    # No heartbeat from gw-1, but it keeps reporting other sessions of the app.
    state = fold(state, connected("exec-c", ts=T0 + timeout - 1_000, gateway="gw-1"))
    assert plan(state, T0 + timeout, TIMINGS).decisions == ()
    # Once gw-1 says nothing at all for the timeout, its executors are silent.
    result = plan(state, T0 + 2 * timeout - 1_000, TIMINGS)
    dead = {d.dead_executor_id for d in result.decisions if d.step is RecoveryStep.DECLARED_DEAD}
    assert dead == {"exec-a", "exec-b", "exec-c"}


def test_an_outage_of_events_never_looks_like_silent_executors() -> None:
    state = fold_all([connected("exec-a", T0), connected("exec-b", T0)])
    wall = T0 + 3_600_000  # an hour with no events at all
    result = plan(state, event_clock(state, wall, TIMINGS), TIMINGS)
    assert result.decisions == ()


def test_a_close_held_through_a_broker_outage_gets_its_grace_after_it_arrives() -> None:
    """Every broker away for a minute: the pod shed its sessions meanwhile and held their closes.
    Kafka back, its beat gets through before the held close; the executor, reconnecting, is not
    declared dead before a whole grace has passed since the close arrived."""
    gone = T0 + 1_000
    back = gone + 60_000
    state = fold_all([connected("exec-a", T0), connected("exec-b", T0)])
    state = beat_once(state, back)  # the beat overtook the held close
    state = fold(state, disconnected("exec-a", gone, close_code=1012))
    now = event_clock(state, back + 100, TIMINGS)
    assert now == back + 100  # the wall clock: events flow again
    assert first_dead_at(state, now, back + TIMINGS.grace_ms - 1) is None
    assert first_dead_at(state, now, back + TIMINGS.grace_ms + 1_000) is not None
    reconnected = fold(state, connected("exec-a", back + 3_000, conn_id="a-2"))
    assert first_dead_at(reconnected, now, back + TIMINGS.grace_ms + 5_000) is None


# --- property: the invariants hold for any history ------------------------------------------------

EXECUTORS = ["e1", "e2", "e3", "e4"]
GATEWAYS = ["gw-1", "gw-2"]


@dataclass(frozen=True)
class Connect:
    executor: str
    gateway: str
    version: str
    skew: int


@dataclass(frozen=True)
class Disconnect:
    executor: str
    draining: bool
    revoked: bool
    stale_conn: bool
    skew: int
    clean: bool = False


@dataclass(frozen=True)
class Beat:
    gateway: str
    drop: frozenset[str]
    skew: int
    quiet: bool = False
    """A beat that lists nothing (the pod is alive): ``drop`` does not matter."""


@dataclass(frozen=True)
class Progress:
    pick: int
    status: CommandStatus


skews = st.integers(min_value=-2_000, max_value=2_000)
# Connect is listed twice: connects twice as likely keeps enough executors alive to be chosen.
operations = st.one_of(
    st.builds(
        Connect,
        st.sampled_from(EXECUTORS),
        st.sampled_from(GATEWAYS),
        st.sampled_from(["v1", "v2"]),
        skews,
    ),
    st.builds(
        Connect,
        st.sampled_from(EXECUTORS),
        st.sampled_from(GATEWAYS),
        st.sampled_from(["v1", "v2"]),
        skews,
    ),
    st.builds(
        Disconnect,
        st.sampled_from(EXECUTORS),
        st.booleans(),
        st.booleans(),
        st.booleans(),
        skews,
        st.booleans(),
    ),
    st.builds(
        Beat,
        st.sampled_from(GATEWAYS),
        st.frozensets(st.sampled_from(EXECUTORS)),
        skews,
        st.booleans(),
    ),
    st.builds(
        Progress, st.integers(min_value=0, max_value=50), st.sampled_from(list(CommandStatus))
    ),
)
steps_strategy = st.lists(
    st.tuples(operations, st.integers(min_value=0, max_value=20_000)), max_size=40
)


def expected_grace(state: AppState, record: ExecutorRecord, timings: RecoveryTimings) -> int:
    """The grace the rules give (an oracle written apart from the policy)."""
    if record.draining:
        return timings.drain_grace_ms
    # Crowds are told by when sessions closed: a pause of the stream moves the time a grace
    # runs from (``disconnected_at_ms``), never the close time (``recovery.liveness``).
    assert record.closed_at_ms is not None
    crowd = [
        other
        for other in state.executors.values()
        if other.executor_id != record.executor_id
        and other.closed_at_ms is not None
        and abs(other.closed_at_ms - record.closed_at_ms) <= timings.crowd_window_ms
    ]
    if record.close_code == 1006 and not crowd:
        return min(timings.isolated_grace_ms, timings.grace_ms)
    return timings.grace_ms


def check_plan(before: AppState, now: int, result: Plan, timings: RecoveryTimings) -> None:
    for command in result.commands:
        for state in (before, result.state):
            target = state.executors.get(command.target)
            assert target is not None, command
            assert target.state is ExecutorState.CONNECTED, (command, target)
        assert command.target != command.dead_executor_id
        target = result.state.executors[command.target]
        recovery = result.state.recoveries[command.dead_executor_id]
        assert target.info.application_version == recovery.application_version
        assert target.gateway == command.target_gateway
    for decision in result.decisions:
        if decision.step is not RecoveryStep.DECLARED_DEAD:
            continue
        record = before.executors[decision.dead_executor_id]
        if record.state is ExecutorState.CONNECTED:
            heard = before.gateways_heard_ms.get(record.gateway, 0)
            assert now - max(record.last_seen_ms, heard) >= timings.liveness_timeout_ms
        else:
            assert record.state is ExecutorState.DISCONNECTED
            assert not record.revoked
            assert record.disconnected_at_ms is not None
            assert now - record.disconnected_at_ms >= expected_grace(before, record, timings)


@settings(max_examples=500, deadline=None)
@given(
    steps_strategy,
    st.sampled_from(
        [
            TIMINGS,
            RecoveryTimings(
                grace_ms=1_000,
                isolated_grace_ms=600,
                crowd_window_ms=1_500,
                drain_grace_ms=5_000,
                liveness_timeout_ms=6_000,
                command_timeout_ms=4_000,
                retry_backoff_ms=500,
            ),
        ]
    ),
)
def test_invariants_hold_for_any_history(
    history: list[tuple[object, int]], timings: RecoveryTimings
) -> None:
    state = AppState(app=APP)
    wall = T0
    conns: dict[str, int] = {}
    commands: list[RecoverExecutor] = []
    due: int | None = None
    for op, advance in history:
        wall += advance
        # Whether the recovery agent would plan the app at once (``recovery.agent``): an event
        # folded, other than a beat that lists nothing.
        changed = True
        match op:
            case Connect(executor, gateway, version, skew):
                conns[executor] = conns.get(executor, 0) + 1
                event: ExecutorEvent | None = connected(
                    executor,
                    wall + skew,
                    conn_id=f"{executor}-{conns[executor]}",
                    version=version,
                    gateway=gateway,
                )
            case Disconnect(executor, draining, revoked, stale_conn, skew, clean) if (
                executor in conns
            ):
                n = conns[executor] - (1 if stale_conn else 0)
                event = disconnected(
                    executor,
                    wall + skew,
                    conn_id=f"{executor}-{n}",
                    draining=draining,
                    revoked=revoked,
                    close_code=1000 if clean else 1006,
                )
            case Beat(gateway, _, skew, quiet=True):
                event = GatewayHeartbeat(
                    app=APP,
                    gateway=GatewayId(gateway),
                    sessions=(),
                    ts_ms=wall + skew,
                    listed=False,
                )
                changed = False
            case Beat(gateway, drop, skew):
                sessions = tuple(
                    SessionInfo(info=r.info, conn_id=r.conn_id, connected_at_ms=r.connected_at_ms)
                    for r in state.executors.values()
                    if r.state is ExecutorState.CONNECTED
                    and r.gateway == gateway
                    and r.executor_id not in drop
                )
                event = GatewayHeartbeat(
                    app=APP, gateway=GatewayId(gateway), sessions=sessions, ts_ms=wall + skew
                )
            case Progress(pick, status) if commands:
                command = commands[pick % len(commands)]
                result = on_progress(state, progress(command, status, wall))
                assert result.commands == ()
                state = result.state
                event = None
            case _:
                event = None
                changed = False
        if event is not None:
            state = fold(state, event)
        now = event_clock(state, wall, timings)
        assert now <= state.watermark_ms + timings.clock_lead_ms
        result = plan(state, now, timings)
        if not changed and (due is None or now < due):
            # The agent skips this plan: it must have had nothing to decide.
            assert result.decisions == (), (due, now, result.decisions)
        check_plan(state, now, result, timings)
        check_next_deadline(result, now, timings)
        commands.extend(result.commands)
        state = result.state
        due = result.next_ms


def check_next_deadline(result: Plan, now: int, timings: RecoveryTimings) -> None:
    """``Plan.next_ms`` is exact: with no other event, planning the state decides nothing
    before it (decisions only come as time passes: checking just before it is enough), and
    something at it."""
    due = result.next_ms
    if due is None:
        later = now + 10 * max(timings.liveness_timeout_ms, timings.drain_grace_ms)
        assert plan(result.state, later, timings).decisions == ()
        return
    assert due >= now
    if due > now:
        assert plan(result.state, due - 1, timings).decisions == ()
        assert plan(result.state, due, timings).decisions != ()


def test_a_silent_executor_reported_again_by_its_gateway_is_not_recovered() -> None:
    # A's gateway stops reporting it (e.g. the pod stalls) and A is declared dead for silence;
    # no v1 executor is alive, so the recovery is stranded. Then the gateway reports A's very same
    # session again: A was alive all along, and a live executor is never recovered.
    state = fold_all(
        [connected("exec-a", gateway="gw-1"), connected("exec-b", version="v2", gateway="gw-2")]
    )
    silent_at = T0 + TIMINGS.liveness_timeout_ms
    result = plan(beat_only(state, "gw-2", silent_at - 1_000), silent_at, TIMINGS)
    assert steps(result) == [(A, RecoveryStep.DECLARED_DEAD), (A, RecoveryStep.STRANDED)]

    back = silent_at + 1_000
    state = fold(
        result.state,
        GatewayHeartbeat(
            app=APP,
            gateway=GatewayId("gw-1"),
            sessions=(session("exec-a", "exec-a-c", T0),),
            ts_ms=back,
        ),
    )
    state = fold(state, connected("exec-c", back + 100))  # a v1 candidate appears
    result = plan(state, back + 200, TIMINGS)
    assert all(c.dead_executor_id != A for c in result.commands), result.commands
    assert (A, RecoveryStep.ABANDONED) in steps(result)


def beat_only(state: AppState, gateway: str, ts: int) -> AppState:
    """Only ``gateway`` reports its sessions, every 2 s up to ``ts``."""
    sessions = tuple(
        SessionInfo(info=r.info, conn_id=r.conn_id, connected_at_ms=r.connected_at_ms)
        for r in state.executors.values()
        if r.state is ExecutorState.CONNECTED and r.gateway == gateway
    )
    for at in beats_until(state, ts):
        state = fold(
            state,
            GatewayHeartbeat(app=APP, gateway=GatewayId(gateway), sessions=sessions, ts_ms=at),
        )
    return state


def test_a_crowd_of_thousands_gets_the_longer_grace_and_a_lone_close_the_short_one() -> None:
    """A pod's restart closes thousands of sessions at once: each is counted in the crowd (log
    time, ``CloseTimes``), and one that closed alone, later, is not."""
    size = 3_000
    events: list[ExecutorEvent] = []
    for i in range(size):
        events.append(connected(f"exec-{i:05}", T0))
        events.append(disconnected(f"exec-{i:05}", T0 + 1_000 + i % 500))
    events.append(connected("exec-lone", T0))
    events.append(disconnected("exec-lone", T0 + 4_000))  # within the stream: no outage
    state = reduce(fold, events, AppState(app=APP))

    within_crowd_grace = plan(state, T0 + 1_000 + TIMINGS.grace_ms - 600, TIMINGS)
    assert within_crowd_grace.decisions == ()
    lone_gone = plan(state, T0 + 4_000 + TIMINGS.isolated_grace_ms, TIMINGS)
    declared = {
        d.dead_executor_id for d in lone_gone.decisions if d.step is RecoveryStep.DECLARED_DEAD
    }
    assert len(declared) == size + 1  # the crowd's grace is long over too
    assert "alone" in next(
        d.reason for d in lone_gone.decisions if d.dead_executor_id == "exec-lone"
    )
    crowd_reason = next(d.reason for d in lone_gone.decisions if d.dead_executor_id == "exec-00000")
    assert f"with {size - 1} other session(s)" in crowd_reason
