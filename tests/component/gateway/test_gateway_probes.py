"""``/healthz`` and ``/readyz`` on the gateway's own port, as plain HTTP beside the executors'
WebSocket: ready with its broker, unready (and degraded) when Kafka is unreachable, failed when
the pod has failed; never counted against the handshake limiter."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from broker.reachability import kafka_check
from gateway.server import Gateway
from runtime.probes_http import ProbeRoutes
from runtime.readiness import Readiness
from store.database import Store
from store.reachability import store_check
from streams.topics import Topics
from tests.baton_cluster import free_port


def probed(make_gateway: Callable[..., Gateway], readiness: Readiness) -> Gateway:
    gateway = make_gateway(probes=ProbeRoutes.of(readiness))
    readiness.watch(gateway.liveness)
    return gateway


async def test_ready_with_its_broker_and_store(
    make_gateway: Callable[..., Gateway], kafka_bootstrap: str, topics: Topics, store: Store
) -> None:
    names = [spec.name for spec in topics.specs()]
    readiness = Readiness(
        "gateway", {"kafka": kafka_check(kafka_bootstrap, names), "store": store_check(store)}
    )
    async with readiness, probed(make_gateway, readiness) as gateway:
        base = f"http://127.0.0.1:{gateway.port}"
        async with httpx.AsyncClient() as client:
            ready = await client.get(f"{base}/readyz")
            health = await client.get(f"{base}/healthz")
            # Many probes in a row: never refused as a flood of handshakes.
            statuses = {(await client.get(f"{base}/healthz")).status_code for _ in range(40)}
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    assert ready.headers["content-type"] == "application/json"
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert statuses == {200}


async def test_unready_without_kafka(make_gateway: Callable[..., Gateway], store: Store) -> None:
    gone = f"127.0.0.1:{free_port()}"
    readiness = Readiness("gateway", {"kafka": kafka_check(gone, ["t"])})
    async with probed(make_gateway, readiness) as gateway:
        async with httpx.AsyncClient() as client:
            ready = await client.get(f"http://127.0.0.1:{gateway.port}/readyz")
            health = await client.get(f"http://127.0.0.1:{gateway.port}/healthz")
        gateway._fail(RuntimeError("heartbeats died"))
        async with httpx.AsyncClient() as client:
            failed = await client.get(f"http://127.0.0.1:{gateway.port}/healthz")
    unreachable = {"kafka": f"cannot connect to {gone}: connection refused"}
    assert (ready.status_code, ready.json()) == (
        503,
        {"status": "unready", "unreachable": unreachable},
    )
    assert (health.status_code, health.json()["status"]) == (200, "degraded")
    assert failed.status_code == 503
    assert failed.json() == {"status": "failed", "reason": "the gateway failed: heartbeats died"}
