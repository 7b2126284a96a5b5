"""Bounding the live state: ``prune`` forgets finished business, ``material`` ignores clocks."""

from __future__ import annotations

from recovery.liveness import (
    AppState,
    ExecutorState,
    RecoveryState,
    fold,
    fold_decision,
    material,
    prune,
)
from streams.ids import CommandId, ExecutorId
from streams.records import RecoveryStep
from tests.unit.recovery.test_liveness import (
    APP,
    T0,
    A,
    B,
    connected,
    decision,
    disconnected,
    heartbeat,
    session,
)

HOUR_MS = 3_600_000


def recovered_state() -> AppState:
    state = AppState(app=APP)
    state = fold(state, connected("exec-a", "c1", T0))
    state = fold(state, connected("exec-b", "c2", T0))
    state = fold(state, disconnected("exec-a", "c1", T0 + 1_000))
    state = fold_decision(state, decision(RecoveryStep.DECLARED_DEAD, T0 + 4_000))
    command = CommandId("recover/orders/exec-a/1/1")
    state = fold_decision(
        state,
        decision(RecoveryStep.TARGET_CHOSEN, T0 + 4_000, attempt=1, target=B, command_id=command),
    )
    return fold_decision(
        state,
        decision(RecoveryStep.SUCCEEDED, T0 + 4_100, attempt=1, target=B, command_id=command),
    )


def test_prune_forgets_recovered_executors_and_finished_recoveries_after_retention() -> None:
    state = recovered_state()
    assert state.executors[A].state is ExecutorState.RECOVERED
    assert state.recoveries[A].state is RecoveryState.SUCCEEDED

    assert prune(state, T0 + 4_100 + HOUR_MS - 1, HOUR_MS) is state
    pruned = prune(state, T0 + 4_100 + HOUR_MS + 1, HOUR_MS)
    assert A not in pruned.executors
    assert A not in pruned.recoveries
    assert B in pruned.executors


def test_prune_keeps_open_recoveries_however_old() -> None:
    state = AppState(app=APP)
    state = fold(state, connected("exec-a", "c1", T0))
    state = fold(state, disconnected("exec-a", "c1", T0 + 1_000))
    state = fold_decision(state, decision(RecoveryStep.DECLARED_DEAD, T0 + 4_000))
    state = fold_decision(state, decision(RecoveryStep.STRANDED, T0 + 4_000))

    pruned = prune(state, T0 + 100 * HOUR_MS, HOUR_MS)
    assert pruned.recoveries[A].state is RecoveryState.STRANDED
    assert pruned.executors[A].state is ExecutorState.DEAD


def test_material_ignores_heartbeat_clocks_but_not_state_changes() -> None:
    state = fold(AppState(app=APP), connected("exec-a", "c1", T0))
    refreshed = fold(state, heartbeat(T0 + 2_000, session("exec-a", "c1", T0)))
    assert refreshed.executors[A].last_seen_ms > state.executors[A].last_seen_ms
    assert material(refreshed) == material(state)

    gone = fold(refreshed, disconnected("exec-a", "c1", T0 + 3_000))
    assert material(gone) != material(refreshed)
    reconnected = fold(gone, connected("exec-a", "c2", T0 + 3_500))
    assert material(reconnected) != material(gone)


def test_a_duplicated_death_declaration_does_not_reopen_its_recovery() -> None:
    state = recovered_state()
    again = fold_decision(state, decision(RecoveryStep.DECLARED_DEAD, T0 + 4_000))
    assert again.recoveries[A].state is RecoveryState.SUCCEEDED
    assert again.executors[A].state is ExecutorState.RECOVERED
    assert ExecutorId("exec-a") == A
