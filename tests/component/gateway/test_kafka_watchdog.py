"""``gateway.kafka_watchdog`` on a real gateway: a hanging write alone sheds nothing (the cluster
still answers: a broker failing over); while writes hang and the cluster does not answer the pod
either, it reports unready (``kafka_writes``), closes every session with 1012 (marked
``draining``: the executors reconnect elsewhere) and refuses new handshakes with 503; once writes
work, it takes executors again. The hanging write is the pod's own publish watch holding a
publish that never ends, and the cluster's answer a probe the test sets; the cut on a real
network is in ``tests/conformance/test_kafka_faults.py``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from gateway.kafka_watchdog import CHECK_INTERVAL_S, PROBE_TIMEOUT_S, SHED_CODE
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
    answers = True

    async def probe() -> str | None:  # the cluster, as seen from the pod
        return None if answers else "no answer in 3 s"

    gateway.watchdog.probe = probe
    async with readiness, gateway:
        url = executor_url(gateway, APP, key)
        readyz = f"http://127.0.0.1:{gateway.port}/readyz"
        async with httpx.AsyncClient() as client, FakeExecutor(url, "exec-1") as fake:
            await eventually(lambda: fake.handled, "executor_info answered")
            assert (await client.get(readyz)).status_code == 200

            hanging = gateway.watchdog.watch.began(monotonic_ms())  # a write that never ends
            await asyncio.sleep(0.6)  # past the stall: the cluster answers, nothing is shed
            assert not gateway.watchdog.cut_off
            assert fake.ws.close_code is None
            answers = False  # now it does not answer this pod either: cut off
            await eventually(lambda: gateway.watchdog.cut_off, "the pod counts as cut off")
            unready = await answer_with(client, readyz, 503)
            assert "writes to Kafka" in unready.json()["unreachable"]["kafka_writes"]
            assert await handshake_status(url, "exec-2") == 503

            await eventually(lambda: fake.ws.close_code, "the session shed")
            assert fake.ws.close_code == SHED_CODE
            record = await eventually(lambda: disconnected(events, "exec-1"), "its disconnect")
            assert (record.close_code, record.draining) == (SHED_CODE, True)
            assert gateway.watchdog.sheds == 1

            answers = True
            gateway.watchdog.watch.succeeded(hanging, monotonic_ms())  # writes work again
            await eventually(lambda: not gateway.watchdog.cut_off, "the pod back")
            await answer_with(client, readyz, 200)
            assert await handshake_status(url, "exec-3") == 101


async def seconds_until_cut_off(gateway: Gateway) -> float:
    """Seconds from now until the pod's watchdog counts it as cut off (a write already hangs)."""
    stalled_at = monotonic_ms()
    await eventually(lambda: gateway.watchdog.cut_off, "the pod counts as cut off", timeout_s=5)
    return (monotonic_ms() - stalled_at) / 1000


async def test_a_probe_that_hangs_counts_as_unanswered_within_its_timeout(
    make_gateway: Callable[..., Gateway],
) -> None:
    gateway = make_gateway(kafka_stall_ms=300)

    async def probe() -> str | None:  # a link that accepts connections and forwards nothing
        await asyncio.sleep(3600)
        return None

    gateway.watchdog.probe = probe
    async with gateway:
        hanging = gateway.watchdog.watch.began(monotonic_ms())
        waited_s = await seconds_until_cut_off(gateway)
        assert waited_s < 0.3 + CHECK_INTERVAL_S + PROBE_TIMEOUT_S + 0.5, waited_s
        assert "no answer to a probe" in (await gateway.watchdog.check() or "")
        gateway.watchdog.watch.succeeded(hanging, monotonic_ms())


async def test_the_probe_runs_while_the_writes_stall_so_its_answer_is_in_at_the_stall(
    make_gateway: Callable[..., Gateway],
) -> None:
    stall_s = 2.0
    gateway = make_gateway(kafka_stall_ms=int(stall_s * 1000))

    async def probe() -> str | None:  # a slow "no": one second to find the cluster silent
        await asyncio.sleep(1.0)
        return "does not answer"

    gateway.watchdog.probe = probe
    async with gateway:
        hanging = gateway.watchdog.watch.began(monotonic_ms())
        waited_s = await seconds_until_cut_off(gateway)
        # Probing only once the stall is reached would take stall_s + 1 s.
        assert stall_s <= waited_s < stall_s + CHECK_INTERVAL_S + 0.5, waited_s
        gateway.watchdog.watch.succeeded(hanging, monotonic_ms())
