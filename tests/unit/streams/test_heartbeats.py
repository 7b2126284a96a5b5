"""A pod's heartbeat records: small whatever the fleet (a count and digest every beat), the
listing in bounded chunks that each cover a range of executor ids, older records still read."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.codec import decode, encode
from streams.heartbeats import (
    LIST_EVERY_BEAT_UP_TO,
    MAX_CHUNK_BYTES,
    MAX_CHUNK_SESSIONS,
    heartbeats,
    logs_reset,
    session_digest,
)
from streams.ids import AppName, ConnId, ExecutorId, GatewayId
from streams.records import ExecutorInfo, GatewayHeartbeat, SessionInfo

APP = AppName("orders")
GW = GatewayId("gw-1")
T0 = 1_700_000_000_000


def session(i: int, metadata_bytes: int = 0) -> SessionInfo:
    info = ExecutorInfo(
        executor_id=ExecutorId(f"exec-{i:06}"),
        application_version="v1",
        hostname=f"host-{i}",
        metadata={"pad": "x" * metadata_bytes} if metadata_bytes else None,
    )
    return SessionInfo(info=info, conn_id=ConnId(f"conn-{i}"), connected_at_ms=T0)


def fleet(size: int, metadata_bytes: int = 0) -> list[SessionInfo]:
    return [session(i, metadata_bytes) for i in reversed(range(size))]


def test_a_large_fleet_beats_with_one_small_record() -> None:
    sessions = fleet(10_000)
    (beat,) = heartbeats(APP, GW, sessions, T0, listing=False)
    assert (beat.listed, beat.sessions, beat.session_count) == (False, (), 10_000)
    assert beat.digest == session_digest(sessions)
    assert len(encode(beat)) < 200
    assert b"listed_after" not in encode(beat)  # the embedded broker keeps every beat
    assert decode(encode(beat)) == beat


def test_a_small_fleet_is_listed_in_every_beat() -> None:
    sessions = fleet(LIST_EVERY_BEAT_UP_TO)
    (beat,) = heartbeats(APP, GW, sessions, T0, listing=False)
    assert beat.listed
    assert len(beat.sessions) == LIST_EVERY_BEAT_UP_TO
    assert (beat.listed_after, beat.listed_through) == (None, None)


def test_a_held_listing_lists_nothing_whatever_the_count_but_still_digests() -> None:
    for size in (0, 3, 1_000):
        sessions = fleet(size)
        (beat,) = heartbeats(APP, GW, sessions, T0, listing=True, hold_listing=True)
        assert (beat.listed, beat.sessions, beat.session_count) == (False, (), size)
        assert beat.digest == session_digest(sessions)


def test_an_empty_pod_lists_nothing_over_every_range() -> None:
    (beat,) = heartbeats(APP, GW, [], T0, listing=False)
    assert beat.listed
    assert beat.sessions == ()
    assert beat.lists(ExecutorId("anything"))


def test_a_listing_is_chunked_and_its_ranges_cover_every_id_once() -> None:
    sessions = fleet(1_234)
    beats = heartbeats(APP, GW, sessions, T0, listing=True)
    assert [len(b.sessions) for b in beats] == [500, 500, 234]
    assert all(len(encode(b)) < 1_000_000 for b in beats)
    listed = [s for b in beats for s in b.sessions]
    assert sorted(listed, key=lambda s: s.info.executor_id) == listed
    assert {s.info.executor_id for s in listed} == {s.info.executor_id for s in sessions}
    for s in listed:  # each session is in exactly one chunk's range: its own
        (owner,) = [b for b in beats if b.lists(s.info.executor_id)]
        assert s in owner.sessions
    assert beats[0].listed_after is None
    assert beats[-1].listed_through is None
    assert {(b.session_count, b.digest) for b in beats} == {(1_234, session_digest(sessions))}


def test_chunks_are_bounded_in_bytes_too() -> None:
    beats = heartbeats(APP, GW, fleet(400, metadata_bytes=2_000), T0, listing=True)
    assert len(beats) > 1
    assert all(len(encode(b)) <= MAX_CHUNK_BYTES + 10_000 for b in beats)
    assert all(len(b.sessions) <= MAX_CHUNK_SESSIONS for b in beats)


def test_the_digest_ignores_order_and_sees_a_changed_session() -> None:
    sessions = fleet(50)
    assert session_digest(sessions) == session_digest(reversed(sessions))
    moved = [
        *sessions[1:],
        SessionInfo(info=sessions[0].info, conn_id=ConnId("new"), connected_at_ms=T0),
    ]
    assert session_digest(moved) != session_digest(sessions)
    assert session_digest(sessions[1:]) != session_digest(sessions)


def test_an_older_gateways_heartbeat_lists_every_session() -> None:
    raw = orjson.dumps(
        {
            "type": "gateway_heartbeat",
            "app": APP,
            "gateway": GW,
            "sessions": [orjson.loads(orjson.dumps(session(1)))],
            "ts_ms": T0,
        }
    )
    beat = decode(raw)
    assert isinstance(beat, GatewayHeartbeat)
    assert beat.listed
    assert beat.session_count is None
    assert beat.digest is None
    assert beat.lists(ExecutorId("a"))
    assert beat.lists(ExecutorId("zzz"))


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=0, max_value=1_600), st.booleans())
def test_every_beat_round_trips_the_codec(size: int, listing: bool) -> None:
    for beat in heartbeats(APP, GW, fleet(size), T0, listing=listing):
        assert decode(encode(beat)) == beat


def test_a_beat_below_the_apps_previous_one_means_its_log_was_reset() -> None:
    other = AppName("other")
    newest, reset = logs_reset({}, [(APP, 40), (APP, 41), (other, 7)])
    assert (newest, reset) == ({APP: 41, other: 7}, set())
    newest, reset = logs_reset(newest, [(APP, 45), (other, 8)])
    assert (newest, reset) == ({APP: 45, other: 8}, set())
    # The embedded broker restarted empty: the app's partition starts again from 0.
    newest, reset = logs_reset(newest, [(APP, 0), (APP, 1), (other, 9)])
    assert (newest, reset) == ({APP: 1, other: 9}, {APP})
    assert logs_reset(newest, [(APP, 3)]) == ({APP: 3, other: 9}, set())
