"""The ``liveness`` table: one small entry per executor and recovery, written as deltas (material
changes at once, clocks at a slow cadence and a bounded number at a time), and an app's state
rebuilt from its entries after a rebalance."""

from __future__ import annotations

from dataclasses import replace

from recovery.agent import PROJECTION_CADENCE
from recovery.decisions import prune
from recovery.delta import Cadence, Written, delta
from recovery.liveness import fold
from recovery.state import AppState, ExecutorState, RecoveryState
from recovery.table import EXECUTOR, RECOVERY, TABLE_CADENCE, LivenessTable, entry_key
from streams.ids import AppName, ExecutorId, GatewayId
from tests.unit.recovery.recovery_builders import (
    APP,
    T0,
    A,
    connected,
    dead_state,
    disconnected,
    fold_all,
    heartbeat,
    session,
)

CADENCE = Cadence(clock_every_ms=30_000, clock_budget=2)
POD = GatewayId("gw-1")


def finished_state() -> AppState:
    """An executor recovered long ago: prune forgets it and its recovery."""
    state = dead_state()
    return replace(
        state,
        executors={A: replace(state.executors[A], state=ExecutorState.RECOVERED)},
        recoveries={A: replace(state.recoveries[A], state=RecoveryState.SUCCEEDED)},
    )


def fleet(size: int, ts: int = T0) -> AppState:
    return fold_all([connected(f"exec-{i:05}", f"c{i}", ts) for i in range(size)])


def beat_all(state: AppState, ts: int) -> AppState:
    sessions = [
        session(str(e.executor_id), str(e.conn_id), e.connected_at_ms)
        for e in state.executors.values()
    ]
    return fold(state, heartbeat(ts, *sessions))


# --- deltas ------------------------------------------------------------------------------------


def test_a_new_written_copy_gets_everything_then_nothing_until_a_change() -> None:
    state = dead_state()
    written = Written.empty()
    first = delta(written, state, CADENCE)
    assert [e.executor_id for e in first.executors] == [A]
    assert [r.dead_executor_id for r in first.recoveries] == [A]
    written.apply(first)
    assert not delta(written, state, CADENCE)


def test_material_changes_are_written_at_once_clocks_at_the_cadence() -> None:
    state = fleet(3)
    written = Written.empty()
    written.apply(delta(written, state, CADENCE))

    refreshed = beat_all(state, T0 + 2_000)  # every clock moved, nothing else
    assert not delta(written, refreshed, CADENCE)

    gone = fold(refreshed, disconnected("exec-00001", "c1", T0 + 2_500))
    (changed,) = delta(written, gone, CADENCE).executors
    assert (changed.executor_id, changed.state) == ("exec-00001", ExecutorState.DISCONNECTED)


def test_due_clocks_are_written_a_bounded_number_at_a_time() -> None:
    state = fleet(5)
    written = Written.empty()
    written.apply(delta(written, state, CADENCE))
    later = beat_all(state, T0 + 31_000)

    rounds = []
    for _ in range(4):
        changes = delta(written, later, CADENCE)
        rounds.append(len(changes.executors))
        written.apply(changes)
    assert rounds == [2, 2, 1, 0]  # the budget per delta, until all are written
    assert all(e.last_seen_ms == T0 + 31_000 for e in written.executors.values())


def test_pruned_records_are_deleted() -> None:
    state = finished_state()
    written = Written.empty()
    written.apply(delta(written, state, CADENCE))
    forgotten = prune(state, state.watermark_ms + 10_000_000, retention_ms=1)
    changes = delta(written, forgotten, CADENCE)
    assert (changes.gone_executors, changes.gone_recoveries) == ((A,), (A,))
    written.apply(changes)
    assert (written.executors, written.recoveries) == ({}, {})


def test_the_store_gets_each_pods_clock_at_its_cadence_and_no_executor_clock() -> None:
    """``PROJECTION_CADENCE``: the store's readers take a connected executor's last seen from its
    pod's clock, so beats write one pod clock every 10 s, and no executor row."""
    state = fleet(3)
    written = Written.empty()
    first = delta(written, state, PROJECTION_CADENCE)
    assert first.gateways_heard_ms == {POD: T0}
    assert len(first.executors) == 3
    written.apply(first)

    quiet = replace(heartbeat(T0), listed=False, session_count=3, digest="d")
    beats = [replace(quiet, ts_ms=T0 + ms) for ms in range(2_000, 10_000, 2_000)]
    before_due = fold_all(beats, state)
    assert not delta(written, beat_all(before_due, T0 + 9_000), PROJECTION_CADENCE)

    due = fold(before_due, replace(quiet, ts_ms=T0 + 10_000))
    refreshed = beat_all(due, T0 + 11_000)  # every executor's clock moved, too
    changes = delta(written, refreshed, PROJECTION_CADENCE)
    assert changes.gateways_heard_ms == {POD: T0 + 11_000}
    assert changes.executors == ()
    written.apply(changes)
    assert not delta(written, refreshed, PROJECTION_CADENCE)


def test_the_table_keeps_no_pod_clock() -> None:
    assert delta(Written.empty(), fleet(2), TABLE_CADENCE).gateways_heard_ms == {}


# --- the table ---------------------------------------------------------------------------------


def test_one_connect_in_a_large_fleet_writes_one_small_entry() -> None:
    entries: dict[bytes, bytes] = {}
    table = LivenessTable(entries)
    state = fleet(10_000)
    table.write(state)
    assert len(entries) == 10_000
    assert max(len(v) for v in entries.values()) < 1_000

    grown = fold(state, connected("exec-new", "c-new", T0 + 1_000))
    changes = table.write(grown)
    assert [e.executor_id for e in changes.executors] == ["exec-new"]
    assert len(entries) == 10_001


def test_an_app_is_rebuilt_from_its_entries_after_a_rebalance() -> None:
    entries: dict[bytes, bytes] = {}
    state = fold(dead_state(), connected("exec-b", "b1", T0 + 200))
    LivenessTable(entries).write(state)
    other = AppState(app=AppName("billing"))
    LivenessTable(entries).write(fold(other, replace(connected("exec-z", "z1", T0), app=other.app)))

    rebuilt = LivenessTable(entries).load(APP)
    assert rebuilt is not None
    assert rebuilt.recoveries == state.recoveries
    assert set(rebuilt.executors) == {A, ExecutorId("exec-b")}  # nothing of billing's
    assert rebuilt.executors[A] == state.executors[A]
    assert LivenessTable(entries).load(AppName("shop")) is None


def test_a_rebuilt_connected_executor_is_seen_at_the_newest_time_of_its_app() -> None:
    """Clocks are written late: a rebuild must not make a live executor look silent."""
    entries: dict[bytes, bytes] = {}
    table = LivenessTable(entries)
    state = fleet(2)
    table.write(state)
    later = fold(beat_all(state, T0 + 20_000), connected("exec-new", "n1", T0 + 20_000))
    table.write(later)  # the clocks are not due yet: only the connect is written
    assert (
        entries[entry_key(APP, EXECUTOR, ExecutorId("exec-00000"))].count(b'"last_seen_ms":%d' % T0)
        == 1
    )

    rebuilt = LivenessTable(entries).load(APP)
    assert rebuilt is not None
    assert {e.last_seen_ms for e in rebuilt.executors.values()} == {T0 + 20_000}


def test_written_entries_are_deleted_when_pruned() -> None:
    entries: dict[bytes, bytes] = {}
    table = LivenessTable(entries)
    state = finished_state()
    table.write(state)
    assert entry_key(APP, RECOVERY, A) in entries
    table.write(prune(state, state.watermark_ms + 10_000_000, retention_ms=1))
    assert entries == {}


def test_the_table_cadence_is_slow_and_bounded() -> None:
    assert TABLE_CADENCE.clock_every_ms >= 10_000
    assert 0 < TABLE_CADENCE.clock_budget <= 1_000
