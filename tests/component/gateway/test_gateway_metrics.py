"""The gateway pod's ``/metrics`` on its own port, beside executors' WebSocket upgrades: sessions
connected by app, version and pod, sessions opened and closed by close code, records
published and commands consumed, scraped over plain HTTP and read with Prometheus' parser."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from gateway.server import Gateway
from streams.records import ExecutorConnected
from tests.component.gateway.fakes import EventLog, FakeExecutor, KeyBook, executor_url
from tests.eventually import eventually
from tests.prometheus_text import Samples, scrape, value

APP = "orders"
MakeGateway = Callable[..., Gateway]


async def scraped(gateway: Gateway) -> Samples:
    """A scrape from another thread: the gateway answers on this test's event loop."""
    return await asyncio.to_thread(scrape, gateway.port)


async def scraped_until(gateway: Gateway, check: Callable[[Samples], bool], what: str) -> Samples:
    for _ in range(200):
        samples = await scraped(gateway)
        if check(samples):
            return samples
        await asyncio.sleep(0.05)
    raise AssertionError(f"not in the gateway's metrics after 10 s: {what}")


async def test_sessions_and_records_move_the_gateways_metrics(
    make_gateway: MakeGateway, keys: KeyBook, events: EventLog
) -> None:
    _, key = await keys.create(APP)
    async with make_gateway() as gateway:
        pod = gateway.config.gateway_id
        before = await scraped(gateway)
        assert value(before, "baton_info", role="gateway") == 1
        assert value(before, "baton_executors_connected") == 0
        assert value(before, "baton_sessions_opened_total") == 0

        url = executor_url(gateway, APP, key)
        async with FakeExecutor(url, "exec-1", application_version="v7") as one:
            async with FakeExecutor(url, "exec-2", application_version="v8"):
                await eventually(
                    lambda: len(events.of_type(ExecutorConnected)) == 2, "both connected"
                )
                during = await scraped(gateway)
                for version in ("v7", "v8"):
                    labels = {"app": APP, "version": version, "pod": pod}
                    assert value(during, "baton_executors_connected", **labels) == 1
                assert value(during, "baton_sessions_opened_total") == 2
                topic = gateway.config.topics.executor_events
                assert value(during, "baton_events_published_total", topic=topic) >= 2
            await one.close(1000, "bye")

        after = await scraped_until(
            gateway,
            lambda s: value(s, "baton_sessions_closed_total") == 2,
            "both sessions closed",
        )
        assert value(after, "baton_sessions_closed_total", code="1000") >= 1
        assert value(after, "baton_executors_connected") == 0


async def test_other_paths_are_still_handshakes(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gateway:
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
        writer.write(b"GET /metricsx HTTP/1.1\r\nHost: x\r\n\r\n")
        status = await reader.readline()
        writer.close()
        await writer.wait_closed()
        assert status.startswith(b"HTTP/1.1 404"), status
