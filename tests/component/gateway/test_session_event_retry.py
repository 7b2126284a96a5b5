"""``gateway.session_events`` on a real gateway and a real broker whose every link the test cuts
(issue 12: a disconnect whose write the broker timed out was never retried, so the worker never
learned that the executor had left).

The broker is a Tansu of the test's own that advertises a ``tests.tcp_cut`` proxy in front of it:
every client, the gateway's producer as much as the test's reader, reaches it through the proxy.
While the proxy forwards nothing, an executor disconnects and comes back: the disconnect's write
times out (the producer's 15 s request timeout). Once the proxy forwards again, the topic holds
the executor's connect, its disconnect, once, and its new connect, in that order.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from baton.embedded_broker import EmbeddedBroker, free_loopback_port
from broker.admin import ensure_topics
from gateway.config import GatewayConfig, GatewayLimits
from gateway.keys import StoreKeys
from gateway.server import Gateway
from store.database import Store
from streams.ids import GatewayId
from streams.records import ExecutorConnected, ExecutorDisconnected
from streams.topics import Topics
from tests.component.gateway.fakes import EventLog, FakeExecutor, KeyBook, executor_url, following
from tests.eventually import eventually
from tests.tcp_cut import TcpCut

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]

APP = "orders"


@pytest.fixture
async def cut_broker(tmp_path: Path) -> AsyncIterator[tuple[str, TcpCut]]:
    """A Tansu broker reached only through a proxy the test controls: ``(bootstrap, cut)``."""
    broker_port = free_loopback_port()
    cut = TcpCut(broker_port).start()
    broker = EmbeddedBroker(
        port=broker_port, advertised_port=cut.port, log_path=tmp_path / "tansu.log"
    )
    try:
        await broker.start()
        yield f"127.0.0.1:{cut.port}", cut
    finally:
        await broker.stop()
        await asyncio.to_thread(cut.stop)


def session_events_of(events: EventLog, executor_id: str) -> list[tuple[str, str]]:
    """(type, connection id) of the executor's connects and disconnects, in topic order."""
    found: list[tuple[str, str]] = []
    for record in list(events.records):
        match record:
            case ExecutorConnected() if record.session.info.executor_id == executor_id:
                found.append((record.type.value, record.session.conn_id))
            case ExecutorDisconnected() if record.executor_id == executor_id:
                found.append((record.type.value, record.conn_id))
    return found


def conn_ids(events: EventLog, executor_id: str) -> list[str]:
    return [c for t, c in session_events_of(events, executor_id) if t == "executor_connected"]


def retrying(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "gateway.session_events" and r.getMessage().startswith("could not write")
    ]


async def test_a_disconnect_whose_write_timed_out_arrives_once_the_broker_is_back_in_order(
    cut_broker: tuple[str, TcpCut], store: Store, keys: KeyBook, caplog: pytest.LogCaptureFixture
) -> None:
    bootstrap, cut = cut_broker
    topics = Topics(prefix=f"t{uuid.uuid4().hex[:8]}.", partitions=2)
    await ensure_topics(bootstrap, topics.specs())
    _, key = await keys.create(APP)
    config = GatewayConfig(
        gateway_id=GatewayId(f"gw-{uuid.uuid4().hex[:8]}"),
        kafka_bootstrap=bootstrap,
        topics=topics,
        port=0,
        heartbeat_interval_s=0.2,
        shed_when_cut_off=False,  # the pod keeps its sessions: only the retry is under test
        limits=GatewayLimits(handshake_timeout_s=5.0),
    )
    caplog.set_level(logging.INFO, logger="gateway.session_events")
    async with (
        following(bootstrap, topics.executor_events) as events,
        Gateway(config, StoreKeys(store)) as gateway,
    ):
        url = executor_url(gateway, APP, key)
        async with FakeExecutor(url, "exec-1"):
            first = (await eventually(lambda: conn_ids(events, "exec-1"), "the connect"))[0]

        await asyncio.to_thread(cut.hold)  # the broker answers nobody from now on
        async with FakeExecutor(url, "exec-1") as fake:  # exec-1 left (above) and is back
            await eventually(lambda: fake.handled, "executor_info answered")
            failed = await eventually(
                lambda: retrying(caplog), "the disconnect's write timed out", timeout_s=40
            )
            assert getattr(failed[-1], "held", 0) >= 2, "the disconnect and the connect behind it"
            assert session_events_of(events, "exec-1") == [("executor_connected", first)]

            # Drop what the proxy buffered for writes the producer gave up on (a broker that
            # took them late would hold them twice), then forward again.
            await asyncio.to_thread(cut.reset)
            await asyncio.to_thread(cut.release)
            await eventually(
                lambda: len(conn_ids(events, "exec-1")) == 2, "the new connect", timeout_s=40
            )
            second = conn_ids(events, "exec-1")[1]
            assert second != first
            assert session_events_of(events, "exec-1") == [
                ("executor_connected", first),
                ("executor_disconnected", first),
                ("executor_connected", second),
            ]
            assert gateway.session_events.held == 0
            written_again = [r for r in caplog.records if "written again" in r.getMessage()]
            assert written_again, "the recovery is logged"
