"""The liveness fold of executor events: idempotent, latest-wins by event time."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recovery.liveness import SEEN_REFRESH_MS, STREAM_GAP_MS, fold
from recovery.state import AppState, ExecutorState
from streams.ids import CommandId, ExecutorId, GatewayId
from streams.records import CommandProgress, CommandStatus, ExecutorEvent
from tests.unit.recovery.recovery_builders import (
    APP,
    GATEWAYS,
    T0,
    A,
    B,
    connected,
    disconnected,
    events,
    fold_all,
    heartbeat,
    session,
    times,
)

C = ExecutorId("exec-c")

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


def test_the_latest_close_is_kept_across_reconnects() -> None:
    # The policy tells a crowd of closes from a lone one by these times, reconnected or not.
    state = fold_all([connected(ts=T0)])
    assert state.executors[A].closed_at_ms is None
    state = fold_all([disconnected(ts=T0 + 100), connected(conn_id="c2", ts=T0 + 200)], state)
    assert state.executors[A].closed_at_ms == T0 + 100
    assert state.executors[A].disconnected_at_ms is None
    adopted = fold(state, heartbeat(T0 + 3_000, session(conn_id="c3", connected_at=T0 + 2_000)))
    assert adopted.executors[A].conn_id == "c3"
    assert adopted.executors[A].closed_at_ms == T0 + 100
    state = fold_all([disconnected(conn_id="c2", ts=T0 + 4_000)], state)
    assert state.executors[A].closed_at_ms == T0 + 4_000


def test_disconnect_marks_disconnected_with_close_details() -> None:
    state = fold_all([connected(ts=T0), disconnected(ts=T0 + 1_000, draining=True)])
    record = state.executors[A]
    assert record.state is ExecutorState.DISCONNECTED
    assert record.disconnected_at_ms == T0 + 1_000
    assert record.updated_ms == T0 + 1_000
    assert record.closed_at_ms == T0 + 1_000
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


def test_a_beat_that_lists_nothing_refreshes_the_sessions_of_its_gateway_only() -> None:
    state = fold_all(
        [
            connected("exec-a", "c1", T0),
            connected("exec-b", "c2", T0, gateway="gw-2"),
            connected("exec-c", "c3", T0),
            disconnected("exec-c", "c3", T0 + 100),
        ]
    )
    beat = replace(heartbeat(T0 + 2_000), listed=False, session_count=1, digest="d")
    # Within SEEN_REFRESH_MS: only the pod's clock moves; the records are left as they are.
    early = state
    for ts in range(T0 + 2_000, T0 + SEEN_REFRESH_MS, 2_000):
        early = fold(early, replace(beat, ts_ms=ts))
        assert early.executors is state.executors
        assert early.gateways_heard_ms[GatewayId("gw-1")] == ts
    after = fold(early, replace(beat, ts_ms=T0 + SEEN_REFRESH_MS))
    assert after.executors[A].last_seen_ms == T0 + SEEN_REFRESH_MS
    assert after.executors[B].last_seen_ms == T0  # another pod's
    assert after.executors[C] == state.executors[C]  # not connected: nothing to refresh
    assert after.executors[A].updated_ms == T0
    assert after.executors[A].state is ExecutorState.CONNECTED


def test_a_connect_older_than_its_pods_floor_is_refreshed_when_it_falls_behind() -> None:
    """A connect held back while Kafka was away lands after a quiet beat newer than it: its
    record is refreshed by the first quiet beat it is ``SEEN_REFRESH_MS`` behind, not one later."""
    quiet = replace(heartbeat(T0), listed=False, session_count=1, digest="d")
    state = fold_all([connected("exec-a", "c1", T0 + 5_000), replace(quiet, ts_ms=T0 + 6_000)])
    assert state.gateways_seen_floor_ms[GatewayId("gw-1")] == T0 + 5_000
    late = fold(state, connected("exec-b", "c2", T0 + 1_000))
    assert late.gateways_seen_floor_ms[GatewayId("gw-1")] == T0 + 1_000
    # Beats every 2 s (a longer silence would read as a stream gap and move every clock).
    before = fold_all([replace(quiet, ts_ms=ts) for ts in (T0 + 8_000, T0 + 10_000)], late)
    assert before.executors[B].last_seen_ms == T0 + 1_000
    after = fold(before, replace(quiet, ts_ms=T0 + 1_000 + SEEN_REFRESH_MS))
    assert after.executors[B].last_seen_ms == T0 + 1_000 + SEEN_REFRESH_MS
    assert after.gateways_seen_floor_ms[GatewayId("gw-1")] == T0 + 1_000 + SEEN_REFRESH_MS


def test_a_chunk_heals_only_the_executors_of_its_range() -> None:
    state = fold_all([connected(e, f"c-{e}", T0) for e in ("exec-a", "exec-b", "exec-c")])
    # The pod lost exec-a and exec-c without their disconnects: its chunk after exec-b lists
    # nothing (so exec-c is gone), its chunk through exec-b lists exec-b alone.
    last = replace(heartbeat(T0 + 2_000), listed_after=B, session_count=1, digest="d")
    after = fold(state, last)
    assert after.executors[C].state is ExecutorState.DISCONNECTED
    assert after.executors[A].state is ExecutorState.CONNECTED  # not in that chunk's range
    first = replace(
        heartbeat(T0 + 2_000, session("exec-b", "c-exec-b", T0)), listed_through=B, session_count=1
    )
    after = fold(after, first)
    assert after.executors[A].state is ExecutorState.DISCONNECTED
    assert after.executors[B].state is ExecutorState.CONNECTED
    assert after.executors[B].last_seen_ms == T0 + 2_000


def test_command_progress_only_moves_the_clock() -> None:
    state = fold_all([connected()])
    progress = CommandProgress(
        app=APP,
        command_id=CommandId("c"),
        gateway=GatewayId("gw-1"),
        executor_id=A,
        status=CommandStatus.SENT,
        error=None,
        ts_ms=T0 + 3_000,
    )
    after = fold(state, progress)
    assert after.executors == state.executors
    assert after.watermark_ms == T0 + 3_000


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


# --- property: duplicates change nothing ---------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(events, max_size=12))
def test_folding_each_event_twice_equals_folding_it_once(evs: list[ExecutorEvent]) -> None:
    once = fold_all(evs)
    twice = fold_all([e for e in evs for _ in range(2)])
    assert twice == once
    assert once.watermark_ms == max((e.ts_ms for e in evs), default=0)


quiet_beats = st.builds(
    lambda ts, gateway: replace(
        heartbeat(ts, gateway=gateway), listed=False, session_count=1, digest="d"
    ),
    times,
    st.sampled_from(GATEWAYS),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(events, quiet_beats), max_size=24))
def test_a_quiet_beat_skips_the_walk_of_its_pod_only_when_the_walk_would_change_nothing(
    evs: list[ExecutorEvent],
) -> None:
    """The pods' floors let a quiet beat skip the walk of its pod's records: folding with them
    gives the executors folding without them (every quiet beat walking) gives, and each floor is
    a lower bound of its pod's connected records' last seen."""
    kept = AppState(app=APP)
    walked = AppState(app=APP)
    for event in evs:
        kept = fold(kept, event)
        walked = fold(replace(walked, gateways_seen_floor_ms={}), event)
        assert kept.executors == walked.executors
        for gateway, floor in kept.gateways_seen_floor_ms.items():
            for record in kept.live_executors():
                if record.gateway == gateway:
                    assert record.last_seen_ms >= floor


def test_a_gap_in_the_stream_pauses_the_liveness_clocks() -> None:
    """No event of the app for longer than ``STREAM_GAP_MS`` (Kafka, or every gateway, away):
    the first event after the gap moves last-seen and disconnect times forward by the gap, so
    nobody is found silent, or out of grace, for the outage; the order clock stays."""
    state = fold_all(
        [connected(ts=T0), connected("exec-b", ts=T0), disconnected("exec-b", ts=T0 + 1_000)]
    )
    gap = STREAM_GAP_MS + 30_000
    after = fold(state, heartbeat(T0 + 1_000 + gap, gateway="gw-9"))  # a pod is back
    a, b = after.executors[A], after.executors[B]
    assert (a.last_seen_ms, a.updated_ms) == (T0 + gap, T0)
    assert (b.disconnected_at_ms, b.updated_ms, b.closed_at_ms) == (
        T0 + 1_000 + gap,
        T0 + 1_000,
        T0 + 1_000,
    )


def test_a_close_arriving_after_newer_events_past_the_gap_runs_its_grace_from_them() -> None:
    """A close its pod held while Kafka was away arrives after another event of the app got
    through: late news, its grace runs from the newest event's time (as ``_paused`` would have
    moved it, in order); its order and close times stay its own."""
    back = T0 + 1_000 + STREAM_GAP_MS + 30_000
    state = fold_all([connected(ts=T0), heartbeat(back, gateway="gw-9")])
    late = fold(state, disconnected(ts=T0 + 1_000))
    a = late.executors[A]
    assert a.state is ExecutorState.DISCONNECTED
    assert (a.disconnected_at_ms, a.updated_ms, a.closed_at_ms) == (back, T0 + 1_000, T0 + 1_000)


def test_a_close_behind_by_less_than_the_gap_keeps_its_own_time() -> None:
    state = fold_all([connected(ts=T0), heartbeat(T0 + STREAM_GAP_MS, gateway="gw-9")])
    a = fold(state, disconnected(ts=T0 + 1)).executors[A]
    assert a.disconnected_at_ms == T0 + 1


def test_events_closer_than_the_gap_move_no_clock() -> None:
    state = fold_all([connected(ts=T0)])
    after = fold(state, heartbeat(T0 + STREAM_GAP_MS))
    assert after.executors[A].last_seen_ms == T0
