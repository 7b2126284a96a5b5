"""``gateway.kafka_watchdog`` on a real gateway: while the pod's writes to Kafka hang it reports
unready (``kafka_writes``), closes every session with 1012 (marked ``draining``: the executors
reconnect elsewhere) and refuses new handshakes with 503; once writes work, it takes executors
again. The hanging write is the pod's own publish watch holding a publish that never ends; the
cut on a real network is ``tests/conformance/test_kafka_cut_gateway.py``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from gateway.kafka_watchdog import SHED_CODE
from gateway.server import Gateway
from runtime.clock import monotonic_ms
from runtime.probes_http import ProbeRoutes
from runtime.readiness import Readiness
from streams.records import ExecutorDisconnected
from tests.component.gateway.fakes import EventLog, FakeExecutor, KeyBook, executor_url
from tests.component.gateway.test_gateway import handshake_status
from tests.eventually import eventually

APP = "orders"


def disconnected(events: EventLog, executor_id: str) -> ExecutorDisconnected | None:
    found = [r for r in events.of_type(ExecutorDisconnected) if r.executor_id == executor_id]
    return found[0] if found else None


async def answer_with(client: httpx.AsyncClient, url: str, status: int) -> httpx.Response:
    """GET ``url`` until it answers ``status`` (readiness answers are fresh within 0.5 s)."""
    for _ in range(100):
        answer = await client.get(url)
        if answer.status_code == status:
            return answer
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} did not answer {status}: {answer.status_code} {answer.text}")


async def test_a_pod_that_cannot_write_sheds_its_sessions_and_comes_back(
    make_gateway: Callable[..., Gateway], keys: KeyBook, events: EventLog
) -> None:
    _, key = await keys.create(APP)
    readiness = Readiness("gateway", {})
    gateway = make_gateway(probes=ProbeRoutes.of(readiness), kafka_stall_ms=300)
    readiness.add_check("kafka_writes", gateway.watchdog.check)
    async with readiness, gateway:
        url = executor_url(gateway, APP, key)
        readyz = f"http://127.0.0.1:{gateway.port}/readyz"
        async with httpx.AsyncClient() as client, FakeExecutor(url, "exec-1") as fake:
            await eventually(lambda: fake.handled, "executor_info answered")
            assert (await client.get(readyz)).status_code == 200

            hanging = gateway.watchdog.watch.began(monotonic_ms())  # a write that never ends
            await eventually(lambda: gateway.watchdog.cut_off, "the pod counts as cut off")
            unready = await answer_with(client, readyz, 503)
            assert "writes to Kafka" in unready.json()["unreachable"]["kafka_writes"]
            assert await handshake_status(url, "exec-2") == 503

            await eventually(lambda: fake.ws.close_code, "the session shed")
            assert fake.ws.close_code == SHED_CODE
            record = await eventually(lambda: disconnected(events, "exec-1"), "its disconnect")
            assert (record.close_code, record.draining) == (SHED_CODE, True)
            assert gateway.watchdog.sheds == 1

            gateway.watchdog.watch.succeeded(hanging)  # writes work again
            await eventually(lambda: not gateway.watchdog.cut_off, "the pod back")
            await answer_with(client, readyz, 200)
            assert await handshake_status(url, "exec-3") == 101
