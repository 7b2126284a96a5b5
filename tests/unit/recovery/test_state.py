"""An app's records: the table codec round-trips each, ``executor_material`` ignores clocks."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from recovery.decisions import fold_decision
from recovery.liveness import fold
from recovery.state import (
    AppState,
    decode_executor,
    decode_recovery,
    encode_executor,
    encode_recovery,
    executor_material,
    state_of,
)
from streams.records import ExecutorEvent, RecoveryStep
from tests.unit.recovery.recovery_builders import (
    APP,
    T0,
    A,
    B,
    connected,
    dead_state,
    decision,
    disconnected,
    events,
    fold_all,
    heartbeat,
    session,
)

# --- table codec ---------------------------------------------------------------------------------


def round_trip(state: AppState) -> AppState:
    return state_of(
        state.app,
        [decode_executor(encode_executor(e)) for e in state.executors.values()],
        [decode_recovery(encode_recovery(r)) for r in state.recoveries.values()],
    )


def test_encode_decode_records_round_trip() -> None:
    state = fold_decision(
        dead_state(),
        decision(RecoveryStep.TARGET_CHOSEN, T0 + 3_200, attempt=1, target=B, command_id="cmd-1"),
    )
    state = fold(state, connected("exec-b", "c2", T0 + 50, gateway="gw-2"))
    state = fold(state, disconnected("exec-b", "c2", T0 + 3_300, gateway="gw-2", draining=True))
    state = fold(state, connected("exec-d", "c4", T0 + 3_350))
    state = fold(state, disconnected("exec-d", "c4", T0 + 3_360, revoked=True))
    state = fold(state, connected("exec-c", "c3", T0 + 3_400, version="v2"))
    assert round_trip(state) == state


def test_no_records_is_an_empty_state() -> None:
    assert state_of(APP, [], []) == AppState(app=APP)


@settings(max_examples=100, deadline=None)
@given(st.lists(events, max_size=12))
def test_record_codec_round_trips_any_folded_state(evs: list[ExecutorEvent]) -> None:
    state = fold_all(evs)
    again = round_trip(state)
    assert (again.executors, again.recoveries) == (state.executors, state.recoveries)
    # The watermark is the newest time the records carry: never beyond the folded one.
    assert again.watermark_ms <= state.watermark_ms


# --- material ----------------------------------------------------------------------------------


def test_material_ignores_heartbeat_clocks_but_not_state_changes() -> None:
    state = fold(AppState(app=APP), connected("exec-a", "c1", T0))
    refreshed = fold(state, heartbeat(T0 + 2_000, session("exec-a", "c1", T0)))
    assert refreshed.executors[A].last_seen_ms > state.executors[A].last_seen_ms
    assert executor_material(refreshed.executors[A]) == executor_material(state.executors[A])

    gone = fold(refreshed, disconnected("exec-a", "c1", T0 + 3_000))
    assert executor_material(gone.executors[A]) != executor_material(refreshed.executors[A])
    reconnected = fold(gone, connected("exec-a", "c2", T0 + 3_500))
    assert executor_material(reconnected.executors[A]) != executor_material(gone.executors[A])
