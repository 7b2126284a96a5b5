"""The recovery state machine: decisions folded into an app's state, and ``prune`` forgetting
finished business."""

from __future__ import annotations

import pytest

from recovery.decisions import fold_decision, prune
from recovery.liveness import fold
from recovery.state import AppState, ExecutorState, RecoveryState
from streams.ids import CommandId, ExecutorId
from streams.records import RecoveryStep
from tests.unit.recovery.recovery_builders import (
    APP,
    T0,
    A,
    B,
    connected,
    dead_state,
    decision,
    disconnected,
    fold_all,
)

# --- recovery decisions --------------------------------------------------------------------------


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


# --- pruning -------------------------------------------------------------------------------------

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


def test_a_duplicated_death_declaration_does_not_reopen_its_recovery() -> None:
    state = recovered_state()
    again = fold_decision(state, decision(RecoveryStep.DECLARED_DEAD, T0 + 4_000))
    assert again.recoveries[A].state is RecoveryState.SUCCEEDED
    assert again.executors[A].state is ExecutorState.RECOVERED
    assert ExecutorId("exec-a") == A
