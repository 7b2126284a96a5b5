"""``/healthz`` and ``/readyz`` through the probe listener, over real sockets: ready, unready
with what is unreachable, degraded but alive, failed; other paths and methods refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from runtime.probes_http import HttpAnswer, ProbeRoutes, ProbeServer
from runtime.readiness import Readiness


class Dependency:
    """A dependency that answers until it is taken away (a real ``Check``)."""

    def __init__(self) -> None:
        self.problem: str | None = None

    async def check(self) -> str | None:
        return self.problem


@pytest.fixture
def kafka() -> Dependency:
    return Dependency()


@pytest.fixture
async def readiness(kafka: Dependency) -> AsyncIterator[Readiness]:
    async with Readiness("worker", {"kafka": kafka.check}, interval_s=0.05) as running:
        yield running


@pytest.fixture
async def base_url(readiness: Readiness) -> AsyncIterator[str]:
    routes = ProbeRoutes.of(readiness)

    async def metrics() -> HttpAnswer:
        return HttpAnswer(status=200, body=b"up 1\n", content_type="text/plain")

    routes.add("/metrics", metrics)
    async with ProbeServer(routes, "127.0.0.1", 0) as server:
        yield f"http://127.0.0.1:{server.port}"


async def test_ready_and_alive(base_url: str) -> None:
    async with httpx.AsyncClient() as client:
        ready = await client.get(f"{base_url}/readyz")
        health = await client.get(f"{base_url}/healthz?verbose=1")
        metrics = await client.get(f"{base_url}/metrics")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    assert ready.headers["content-type"] == "application/json"
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (metrics.status_code, metrics.text) == (200, "up 1\n")


async def test_unready_while_a_dependency_is_unreachable_yet_alive(
    base_url: str, kafka: Dependency
) -> None:
    kafka.problem = "cannot connect to 127.0.0.1:9: connection refused"
    await asyncio.sleep(0.2)  # a few rounds of the readiness loop
    async with httpx.AsyncClient() as client:
        ready = await client.get(f"{base_url}/readyz")
        health = await client.get(f"{base_url}/healthz")
        kafka.problem = None
        await asyncio.sleep(0.6)  # older than FRESH_S: checked again
        again = await client.get(f"{base_url}/readyz")
    unreachable = {"kafka": "cannot connect to 127.0.0.1:9: connection refused"}
    assert (ready.status_code, ready.json()) == (
        503,
        {"status": "unready", "unreachable": unreachable},
    )
    assert (health.status_code, health.json()) == (
        200,
        {"status": "degraded", "unreachable": unreachable},
    )
    assert (again.status_code, again.json()) == (200, {"status": "ready"})


async def test_a_failed_part_fails_liveness(base_url: str, readiness: Readiness) -> None:
    readiness.watch(lambda: "the Faust app has stopped")
    async with httpx.AsyncClient() as client:
        health = await client.get(f"{base_url}/healthz")
    assert (health.status_code, health.json()) == (
        503,
        {"status": "failed", "reason": "the Faust app has stopped"},
    )


async def test_a_slow_check_counts_as_unreachable() -> None:
    async def hangs() -> str | None:
        await asyncio.sleep(10)
        return None

    readiness = Readiness("gateway", {"store": hangs}, timeout_s=0.1)
    answer = await readiness.readyz()  # not started: checked on the spot
    assert answer.status == 503
    assert answer.body == {"status": "unready", "unreachable": {"store": "no answer in 0 s"}}


async def test_other_paths_methods_and_garbage_are_refused(base_url: str) -> None:
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{base_url}/")).status_code == 404
        assert (await client.post(f"{base_url}/readyz")).status_code == 405
        head = await client.head(f"{base_url}/readyz")
    assert head.status_code == 200
    assert head.content == b""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"NONSENSE\r\n\r\n")
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")


async def test_a_check_that_breaks_counts_as_unreachable() -> None:
    async def breaks() -> str | None:
        raise RuntimeError("a bug in a client library")

    answer = await Readiness("worker", {"kafka": breaks}).readyz()
    assert answer.status == 503
    assert answer.body == {
        "status": "unready",
        "unreachable": {"kafka": "the check failed: RuntimeError"},
    }
