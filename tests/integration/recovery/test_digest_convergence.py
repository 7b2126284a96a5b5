"""``recovery.digest`` end to end: a real gateway pod (holding more sessions than it lists in every
beat, and listing them only once an hour) and the recovery agent in a real Faust worker, on the
embedded broker.

The table is made to diverge from the pod: a connect of a session the pod does not hold is put on
the topic in the pod's name, as when the pod's disconnect of it was lost. The pod's digest beats
disagree with the table; within a bounded time the worker asks the pod for a listing
(``ListSessions``), the pod lists in its next beat, and the table no longer counts the lost
session as live; the pod's real sessions stay live all along.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from pathlib import Path

import pytest

from broker.faust_app import WorkerApp
from gateway.config import GatewayConfig, GatewayLimits
from gateway.keys import StoreKeys
from gateway.server import Gateway
from recovery.agent import RecoveryAgent
from recovery.digest import MISMATCH_GRACE_MS
from recovery.policy import RecoveryTimings
from runtime.clock import wall_ms
from store.database import Store, sqlite_url
from streams.heartbeats import LIST_EVERY_BEAT_UP_TO
from streams.ids import AppName, ConnId, ExecutorId, GatewayId
from streams.records import (
    ExecutorConnected,
    ExecutorInfo,
    GatewayHeartbeat,
    ListSessions,
    SessionInfo,
)
from tests.component.gateway.fakes import (
    CommandSender,
    EventLog,
    FakeExecutor,
    KeyBook,
    executor_url,
    following,
)
from tests.eventually import eventually
from tests.integration.faust_worker import RecordingProjection, started

pytestmark = pytest.mark.integration

APP = AppName("orders")
HELD = LIST_EVERY_BEAT_UP_TO + 2
"""More sessions than the pod lists in every beat: its beats carry only the digest."""
CONVERGED_WITHIN_S = MISMATCH_GRACE_MS / 1000 + 6.0
"""The grace, then a beat to ask in, the command's trip to the pod, its next beat (0.2 s) and
the worker's fold, with room for a loaded 2-core machine."""


def digest_only_since_listing(events: EventLog, gateway: GatewayId) -> bool:
    """Whether the pod has listed the app's sessions once, then beaten with the digest alone
    holding all ``HELD`` sessions.

    A digest-only beat alone is not enough: while the pod still holds connects to write, its
    beats list nothing whatever the count (``streams.heartbeats``), and its first listing of the
    app comes at its next beat after them (a ghost put on the topic before it is healed at once,
    with no request). Once it has listed (at any count: up to ``LIST_EVERY_BEAT_UP_TO`` sessions
    every beat lists), it lists again only at the interval or when asked."""
    beats = [b for b in events.of_type(GatewayHeartbeat) if b.gateway == gateway]
    listed = [b.ts_ms for b in beats if b.listed]
    return bool(listed) and any(
        not b.listed and b.session_count == HELD and b.ts_ms > listed[0] for b in beats
    )


def live_ids(agent: RecoveryAgent) -> set[str]:
    return {e.executor_id for e in agent.live_executors(APP)}


async def test_a_lost_disconnect_is_healed_by_the_listing_the_digest_asks_for(
    kafka_bootstrap: str,
    worker: WorkerApp,
    executor_events: CommandSender,
    commands: EventLog,
    tmp_path: Path,
) -> None:
    agent = RecoveryAgent(
        worker,
        RecoveryTimings(grace_ms=300, command_timeout_ms=60_000),
        RecordingProjection(),
        tick_interval_s=0.05,
        projection_interval_s=0.05,
    )
    gateway_id = GatewayId(f"gw-{uuid.uuid4().hex[:8]}")
    config = GatewayConfig(
        gateway_id=gateway_id,
        kafka_bootstrap=kafka_bootstrap,
        topics=worker.topics,
        port=0,
        heartbeat_interval_s=0.2,
        heartbeat_listing_interval_s=3600.0,  # no periodic listing heals it within the test
        limits=GatewayLimits(handshake_timeout_s=5.0),
    )
    async with contextlib.AsyncExitStack() as stack:
        store = await stack.enter_async_context(Store(sqlite_url(tmp_path / "baton.db")))
        events = await stack.enter_async_context(
            following(kafka_bootstrap, worker.topics.executor_events)
        )
        _, key = await KeyBook(store).create(APP)
        await stack.enter_async_context(started(worker))
        gateway = await stack.enter_async_context(Gateway(config, StoreKeys(store)))
        url = executor_url(gateway, APP, key)
        real = {f"exec-{i:02d}" for i in range(HELD)}
        for executor_id in sorted(real):
            await stack.enter_async_context(FakeExecutor(url, executor_id))
        await eventually(lambda: live_ids(agent) == real, "the pod's sessions live", timeout_s=30)
        # Past the pod's first listing of all its sessions (a listing heals at once what it
        # finds): its beats carry the digest alone from then on, and the table agrees with it.
        await eventually(
            lambda: digest_only_since_listing(events, gateway_id),
            "a digest-only beat after the pod's listing",
        )
        await eventually(lambda: not agent.pods_in_doubt(), "the table agrees with the pod")
        asked_before = len(commands.of_type(ListSessions))

        # The pod's disconnect of exec-ghost never reached the worker: its connect did.
        now = wall_ms()
        info = ExecutorInfo(executor_id=ExecutorId("exec-ghost"), application_version="v1")
        ghost = SessionInfo(info=info, conn_id=ConnId("ghost-1"), connected_at_ms=now)
        await executor_events.send(
            ExecutorConnected(app=APP, gateway=gateway_id, session=ghost, ts_ms=now)
        )
        await eventually(lambda: "exec-ghost" in live_ids(agent), "the table diverged")
        diverged = time.monotonic()

        await eventually(
            lambda: "exec-ghost" not in live_ids(agent),
            "the ghost no longer live",
            timeout_s=CONVERGED_WITHIN_S + 5,
        )
        converged_s = time.monotonic() - diverged
        print(f"\ndigest mismatch healed in {converged_s:.1f} s")
        assert converged_s < CONVERGED_WITHIN_S, converged_s
        asks = commands.of_type(ListSessions)[asked_before:]
        assert asks, "the worker asked the pod for a listing"
        assert {(a.app, a.gateway) for a in asks} == {(APP, gateway_id)}
        assert asks[0].issued_at_ms - now >= MISMATCH_GRACE_MS, "asked once the grace was over"
        assert live_ids(agent) == real
