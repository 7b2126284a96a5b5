"""A pod holding more than a few sessions of an app beats with their count and digest alone, and
lists them (in range chunks) on its first beat and then at the listing interval (issue 12: one
record listing every session passed the broker's 1 MB limit at ~4,000 sessions)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable

from baton.embedded_broker import EmbeddedBroker
from broker.admin import ensure_topics
from gateway.server import Gateway
from streams.heartbeats import LIST_EVERY_BEAT_UP_TO, session_digest
from streams.records import GatewayHeartbeat
from streams.topics import Topics
from tests.component.gateway.fakes import (
    EventLog,
    FakeExecutor,
    KeyBook,
    executor_url,
    following,
)
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


async def test_a_pod_lists_its_sessions_again_once_the_broker_comes_back_empty(
    make_gateway: Callable[..., Gateway],
    keys: KeyBook,
    unique_topic_prefix: str,
) -> None:
    """The embedded broker restarted (memory storage: empty): the pod lists its sessions on the
    new log at once, not at the listing interval, so that the restarted worker knows them. (Here
    a beat's write fails during the restart, which relists; a restart short enough for the
    producer's retries shows only as beats at lower offsets: ``streams.heartbeats.logs_reset``.)"""
    _, key = await keys.create(APP)
    own = Topics(prefix=unique_topic_prefix, partitions=2)
    async with EmbeddedBroker() as broker:
        await ensure_topics(broker.bootstrap, own.specs())
        async with (
            make_gateway(
                kafka_bootstrap=broker.bootstrap,
                topics=own,
                heartbeat_listing_interval_s=3_600.0,
                shed_when_cut_off=False,
            ) as gateway,
            contextlib.AsyncExitStack() as stack,
        ):
            url = executor_url(gateway, APP, key)
            fakes = [FakeExecutor(url, f"exec-{i:04}") for i in range(SIZE)]
            for fake in fakes:
                await stack.enter_async_context(fake)
            await eventually(lambda: all(f.handled for f in fakes), "every executor connected")
            async with following(broker.bootstrap, own.executor_events) as before:
                await eventually(lambda: _unlisted_beat(before, gateway), "a beat that lists none")

            await broker.stop()
            await broker.restart()
            await ensure_topics(broker.bootstrap, own.specs())
            async with following(broker.bootstrap, own.executor_events) as after:
                listed = await eventually(
                    lambda: _listed_ids(after, gateway), "a listing on the new log", timeout_s=30
                )
            assert listed == {f"exec-{i:04}" for i in range(SIZE)}
            assert all(f.ws.close_code is None for f in fakes)  # nobody reconnected


def _unlisted_beat(events: EventLog, gateway: Gateway) -> bool:
    beats = [b for b in events.of_type(GatewayHeartbeat) if b.gateway == gateway.config.gateway_id]
    assert any(not b.listed and b.session_count == SIZE for b in beats), beats[-1:]
    return True


def _listed_ids(events: EventLog, gateway: Gateway) -> set[str]:
    ids: set[str] = {
        s.info.executor_id
        for b in events.of_type(GatewayHeartbeat)
        if b.gateway == gateway.config.gateway_id and b.listed
        for s in b.sessions
    }
    assert len(ids) == SIZE, len(ids)
    return ids
