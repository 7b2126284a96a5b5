"""A pod holding more than a few sessions of an app beats with their count and digest alone, and
lists them (in range chunks) on its first beat and then at the listing interval (issue 12: one
record listing every session passed the broker's 1 MB limit at ~4,000 sessions)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable

from gateway.server import Gateway
from streams.heartbeats import LIST_EVERY_BEAT_UP_TO, session_digest
from streams.records import GatewayHeartbeat
from tests.component.gateway.fakes import EventLog, FakeExecutor, KeyBook, executor_url
from tests.eventually import eventually

APP = "fleet"
SIZE = LIST_EVERY_BEAT_UP_TO + 20


def listings(events: EventLog, gateway: Gateway) -> dict[int, list[GatewayHeartbeat]]:
    """The listing chunks of each beat (by its time) of this gateway's full fleet."""
    by_beat: dict[int, list[GatewayHeartbeat]] = {}
    for beat in events.of_type(GatewayHeartbeat):
        if beat.gateway == gateway.config.gateway_id and beat.listed and beat.session_count == SIZE:
            by_beat.setdefault(beat.ts_ms, []).append(beat)
    return by_beat


async def test_a_large_pod_beats_small_and_lists_its_sessions_at_the_interval(
    make_gateway: Callable[..., Gateway], keys: KeyBook, events: EventLog
) -> None:
    _, key = await keys.create(APP)
    async with (
        make_gateway(heartbeat_listing_interval_s=1.0) as gateway,
        contextlib.AsyncExitStack() as stack,
    ):
        url = executor_url(gateway, APP, key)
        fakes = [FakeExecutor(url, f"exec-{i:04}") for i in range(SIZE)]
        for fake in fakes:  # one at a time: the gateway refuses more than 16 pending key checks
            await stack.enter_async_context(fake)
        await eventually(lambda: all(f.handled for f in fakes), "every executor connected")

        def two_full_listings() -> dict[int, list[GatewayHeartbeat]]:
            full = {
                ts: chunks
                for ts, chunks in listings(events, gateway).items()
                if chunks[-1].listed_through is None
            }
            assert len(full) >= 2, sorted(full)
            return full

        full = await eventually(two_full_listings, "two listings of the whole fleet", timeout_s=20)
        for chunks in full.values():
            sessions = [s for c in chunks for s in c.sessions]
            assert len(sessions) == SIZE
            assert {c.digest for c in chunks} == {session_digest(sessions)}
        times = sorted(full)
        assert all(b - a >= 1_000 for a, b in itertools.pairwise(times))

        between = [
            b
            for b in events.of_type(GatewayHeartbeat)
            if b.gateway == gateway.config.gateway_id
            and times[0] < b.ts_ms < times[1]
            and b.session_count == SIZE
        ]
        assert between, "beats between two listings"
        assert all(not b.listed and b.sessions == () for b in between)
        assert {b.digest for b in between} == {full[times[0]][0].digest}
