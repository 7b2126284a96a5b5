"""The console API over a real SQLite store seeded by the projection, through httpx's ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from console.app import create_app
from store.database import Store, sqlite_url
from store.projection import project_app_state
from streams.liveness import AppState, ExecutorRecord, ExecutorState, Recovery, RecoveryState
from streams.records import AppName, CommandId, ConnId, ExecutorId, ExecutorInfo, GatewayId

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20.000Z


def _executor(executor_id: str, state: ExecutorState, **changes: object) -> ExecutorRecord:
    fields: dict[str, object] = {
        "info": ExecutorInfo(
            executor_id=ExecutorId(executor_id),
            application_version="v1",
            hostname="host-a",
            language="python",
            dbos_version="2.31.1",
            metadata={"region": "eu"},
        ),
        "gateway": GatewayId("gw-1"),
        "conn_id": ConnId(f"conn-{executor_id}"),
        "state": state,
        "connected_at_ms": T0,
        "last_seen_ms": T0 + 2_500,
        "updated_ms": T0,
        **changes,
    }
    return ExecutorRecord(**fields)  # type: ignore[arg-type]


SEED = AppState(
    app=AppName("orders"),
    executors={
        ExecutorId("e1"): _executor("e1", ExecutorState.CONNECTED),
        ExecutorId("e0"): _executor(
            "e0",
            ExecutorState.DEAD,
            disconnected_at_ms=T0 + 1_000,
            close_code=1006,
            close_reason="abnormal closure",
        ),
    },
    recoveries={
        ExecutorId("e0"): Recovery(
            dead_executor_id=ExecutorId("e0"),
            application_version="v1",
            state=RecoveryState.IN_FLIGHT,
            declared_at_ms=T0 + 30_000,
            updated_ms=T0 + 31_000,
            attempt=1,
            target=ExecutorId("e1"),
            command_id=CommandId("orders/e0/1"),
            reason="e1 runs v1",
        )
    },
)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        async with store.sessionmaker.begin() as session:
            await project_app_state(session, SEED)
        transport = httpx.ASGITransport(app=create_app(store))
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            yield client


async def test_executors(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/apps/orders/executors")
    assert response.status_code == 200
    assert response.json() == [
        {
            "executor_id": "e0",
            "application_version": "v1",
            "hostname": "host-a",
            "language": "python",
            "dbos_version": "2.31.1",
            "metadata": {"region": "eu"},
            "state": "dead",
            "gateway": "gw-1",
            "connected_at": "2023-11-14T22:13:20.000Z",
            "last_seen": "2023-11-14T22:13:22.500Z",
            "disconnected_at": "2023-11-14T22:13:21.000Z",
            "close_code": 1006,
            "close_reason": "abnormal closure",
        },
        {
            "executor_id": "e1",
            "application_version": "v1",
            "hostname": "host-a",
            "language": "python",
            "dbos_version": "2.31.1",
            "metadata": {"region": "eu"},
            "state": "connected",
            "gateway": "gw-1",
            "connected_at": "2023-11-14T22:13:20.000Z",
            "last_seen": "2023-11-14T22:13:22.500Z",
            "disconnected_at": None,
            "close_code": None,
            "close_reason": None,
        },
    ]


async def test_recoveries(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/apps/orders/recoveries")
    assert response.status_code == 200
    assert response.json() == [
        {
            "dead_executor_id": "e0",
            "application_version": "v1",
            "state": "in_flight",
            "attempt": 1,
            "target": "e1",
            "reason": "e1 runs v1",
            "declared_at": "2023-11-14T22:13:50.000Z",
            "updated_at": "2023-11-14T22:13:51.000Z",
            "succeeded_at": None,
        }
    ]


async def test_unknown_app_has_empty_lists(client: httpx.AsyncClient) -> None:
    for what in ("executors", "recoveries"):
        response = await client.get(f"/api/v1/apps/billing/{what}")
        assert response.status_code == 200
        assert response.json() == []


async def test_apps_with_counts_by_state(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/apps")
    assert response.status_code == 200
    assert response.json() == [{"app": "orders", "executors": {"connected": 1, "dead": 1}}]


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("app", ["bad%20name", "x" * 129, "%C3%A9", "a!b", "a:b"])
async def test_invalid_app_name_is_400(client: httpx.AsyncClient, app: str) -> None:
    for what in ("executors", "recoveries"):
        response = await client.get(f"/api/v1/apps/{app}/{what}")
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/json"
        assert "invalid app name" in response.json()["error"]


@pytest.mark.parametrize("path", ["/nope", "/api/v1/apps/orders", "/api/v1/apps/orders/x"])
async def test_unknown_route_is_json_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "Not Found"}


async def test_wrong_method_is_json_405(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/apps")
    assert response.status_code == 405
    assert response.json() == {"error": "Method Not Allowed"}
