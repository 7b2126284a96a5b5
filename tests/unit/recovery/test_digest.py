"""``recovery.digest``: a pod's heartbeat digest against what the table says it holds; a lasting
mismatch asks that pod for a listing (at most once per interval), and the listing it answers
with makes the table agree again, whatever the table held before."""

from __future__ import annotations

from functools import reduce
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from recovery.digest import (
    ASK_EVERY_MS,
    MISMATCH_GRACE_MS,
    PodCheck,
    agrees,
    believed,
    on_beat,
)
from recovery.liveness import fold
from recovery.state import AppState
from streams.heartbeats import heartbeats
from streams.ids import ExecutorId, GatewayId
from streams.records import ExecutorEvent, GatewayHeartbeat, ListSessions, SessionInfo
from tests.unit.recovery.recovery_builders import (
    APP,
    EXECUTORS,
    GATEWAYS,
    T0,
    connected,
    disconnected,
    events,
    fold_all,
    session,
)

GW = GatewayId("gw-1")


def beat(ts: int, *held: SessionInfo, gateway: GatewayId = GW) -> GatewayHeartbeat:
    """The pod's digest-only beat (it holds more than a few sessions: no listing)."""
    record = heartbeats(APP, gateway, held, ts, listing=True)[-1]
    return GatewayHeartbeat(
        app=APP,
        gateway=gateway,
        sessions=(),
        ts_ms=ts,
        listed=False,
        session_count=record.session_count,
        digest=record.digest,
    )


def run(
    state: AppState, beats: list[GatewayHeartbeat]
) -> tuple[AppState, PodCheck | None, list[ListSessions]]:
    check: PodCheck | None = None
    asks = []
    for record in beats:
        state = fold(state, record)
        check, ask = on_beat(check, believed(state), record)
        if ask is not None:
            asks.append(ask)
    return state, check, asks


def test_a_pod_that_holds_what_the_table_says_is_never_asked_and_leaves_nothing_behind() -> None:
    state = fold_all([connected("exec-a", "c1", T0), connected("exec-b", "c2", T0 + 1)])
    held = (session("exec-a", "c1", T0), session("exec-b", "c2", T0 + 1))

    _, check, asks = run(state, [beat(T0 + 2_000 * i, *held) for i in range(1, 20)])

    assert (check, asks) == (None, [])


def test_a_lost_disconnect_asks_its_pod_for_a_listing_after_the_grace_then_once_per_interval() -> (
    None
):
    # The table believes exec-a connected through gw-1; gw-1 holds only exec-b (the disconnect
    # of exec-a never arrived).
    state = fold_all([connected("exec-a", "c1", T0), connected("exec-b", "c2", T0 + 1)])
    held = session("exec-b", "c2", T0 + 1)
    beats = [beat(T0 + 2_000 * i, held) for i in range(1, 20)]

    _, check, asks = run(state, beats)

    first = beats[0].ts_ms
    assert [a.issued_at_ms - first for a in asks] == [
        MISMATCH_GRACE_MS,
        MISMATCH_GRACE_MS + 16_000,  # the first beat at least ASK_EVERY_MS later
        MISMATCH_GRACE_MS + 32_000,
    ]
    assert {(a.app, a.gateway) for a in asks} == {(APP, GW)}
    assert len({a.command_id for a in asks}) == 3
    assert check == PodCheck(
        mismatch_since_ms=first, pod_digest=beats[0].digest, asked_at_ms=asks[-1].issued_at_ms
    )


def test_a_pod_whose_sessions_keep_changing_is_not_asked_until_they_settle() -> None:
    # A reconnect wave: at every beat the pod holds one more session than the table knows of
    # (its connect is written just after the beat).
    state = AppState(app=APP)
    held: list[SessionInfo] = []
    check: PodCheck | None = None
    for i in range(10):
        ts = T0 + 2_000 * (i + 1)
        held.append(session(f"exec-{i:02d}", f"c{i}", ts))
        record = beat(ts, *held)
        state = fold(state, record)
        check, ask = on_beat(check, believed(state), record)
        assert ask is None, f"asked at beat {i}"
        state = fold(state, connected(f"exec-{i:02d}", f"c{i}", ts + 1, connected_at=ts))
    # Settled, and one connect was lost for good: asked once the grace has passed.
    ts += 2_000
    held.append(session("exec-lost", "cl", ts))
    asks = []
    for step in range(4):
        record = beat(ts + 2_000 * step, *held)
        state = fold(state, record)
        check, ask = on_beat(check, believed(state), record)
        asks += [] if ask is None else [ask.issued_at_ms - ts]
    assert asks == [MISMATCH_GRACE_MS]


def test_other_pods_sessions_and_disconnected_ones_are_not_counted_as_this_pods() -> None:
    state = fold_all(
        [
            connected("exec-a", "c1", T0),
            connected("exec-b", "c2", T0, gateway="gw-2"),
            connected("exec-c", "c3", T0),
            disconnected("exec-c", "c3", T0 + 10),
        ]
    )
    assert agrees(believed(state), beat(T0 + 2_000, session("exec-a", "c1", T0)))
    assert not agrees(believed(state), beat(T0 + 2_000))
    assert agrees(
        believed(state), beat(T0 + 2_000, gateway=GatewayId("gw-3"))
    )  # a pod with nothing


def test_a_listing_heals_the_table_and_the_check_is_forgotten() -> None:
    state = fold_all([connected("exec-a", "c1", T0), connected("exec-b", "c2", T0 + 1)])
    held = session("exec-b", "c2", T0 + 1)
    state, check, asks = run(state, [beat(T0 + 2_000, held), beat(T0 + 6_000, held)])
    assert len(asks) == 1

    listing = heartbeats(APP, GW, [held], T0 + 7_000, listing=True)
    state = reduce(fold, listing, state)
    check, ask = on_beat(check, believed(state), listing[-1])

    assert ask is None
    assert check == PodCheck(asked_at_ms=T0 + 6_000)  # kept to space the requests
    assert state.executors[ExecutorId("exec-a")].state.value == "disconnected"
    later = T0 + 6_000 + ASK_EVERY_MS
    assert on_beat(check, believed(state), beat(later, held)) == (None, None)


def test_a_listing_chunk_other_than_the_last_is_not_compared() -> None:
    chunk = GatewayHeartbeat(
        app=APP,
        gateway=GW,
        sessions=(),
        ts_ms=T0,
        listed_through=session().info.executor_id,
        session_count=3,
        digest="x",
    )
    assert agrees(believed(AppState(app=APP)), chunk) is None
    older_gateway = GatewayHeartbeat(app=APP, gateway=GW, sessions=(), ts_ms=T0)
    assert agrees(believed(AppState(app=APP)), older_gateway) is None


LATE = T0 + 1_000_000
"""After every event the strategy makes: the pod's sessions and listing are the newest."""


@given(
    st.lists(events, max_size=25),
    st.sets(st.sampled_from(EXECUTORS)),
    st.sampled_from(GATEWAYS),
)
def test_whatever_the_table_held_the_pods_listing_makes_it_agree_with_the_pods_digest(
    history: list[ExecutorEvent], held_by: set[str], gateway: str
) -> None:
    state = fold_all(history)
    held = [session(e, f"{e}-late", LATE) for e in sorted(held_by)]

    listing = heartbeats(APP, GatewayId(gateway), held, LATE + 1, listing=True)
    state = reduce(fold, listing, state)

    assert agrees(believed(state), listing[-1]) is True


@given(
    st.lists(st.integers(1, 5_000), min_size=1, max_size=40),
)
def test_while_a_mismatch_lasts_requests_wait_for_the_grace_and_are_spaced(
    gaps_ms: list[int],
) -> None:
    state = fold_all([connected("exec-a", "c1", T0)])  # the pod says it holds nothing
    times = [T0 + sum(gaps_ms[: i + 1]) for i in range(len(gaps_ms))]

    _, _, asks = run(state, [beat(ts) for ts in times])

    issued = [a.issued_at_ms for a in asks]
    assert all(ts - times[0] >= MISMATCH_GRACE_MS for ts in issued)
    assert all(b - a >= ASK_EVERY_MS for a, b in pairwise(issued))
    if times[-1] - times[0] >= MISMATCH_GRACE_MS:
        assert issued, "a mismatch that lasts past the grace asks"


def test_what_pods_hold_is_computed_again_only_for_a_changed_state() -> None:
    state = fold_all([connected("exec-a", "c1", T0), connected("exec-b", "c2", T0, gateway="gw-2")])
    held = believed(state)
    assert held.of(GW) == (1, beat(T0, session("exec-a", "c1", T0)).digest)
    quiet = fold(state, beat(T0 + 2_000, session("exec-a", "c1", T0)))
    assert believed(quiet, held) is held  # a beat that lists nothing left the executors alone
    moved = fold(quiet, disconnected("exec-a", "c1", T0 + 2_500))
    again = believed(moved, held)
    assert again is not held
    assert again.of(GW) == (0, beat(T0).digest)
    assert again.of(GatewayId("gw-2")) == held.of(GatewayId("gw-2"))
