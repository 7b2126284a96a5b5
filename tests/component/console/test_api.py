"""The console API's executors, recoveries, apps, health and generic errors, over a real SQLite
store seeded by the projections (``seed.py``), through httpx's ASGI transport."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from sqlalchemy import text

from recovery.state import ExecutorState
from store.database import Store
from streams.ids import ExecutorId
from tests.component.console.seed import BULK, ClientFactory, add_executors, executor


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
            "compatibility_warning": None,
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
            "compatibility_warning": None,
        },
    ]


async def test_an_executor_outside_the_tested_matrix_is_flagged(
    client: httpx.AsyncClient, seeded_store: Store
) -> None:
    info = executor("e1", ExecutorState.CONNECTED).info
    await add_executors(
        seeded_store,
        executor(
            "e5",
            ExecutorState.CONNECTED,
            info=replace(info, executor_id=ExecutorId("e5"), language="rust"),
        ),
        executor(
            "e6",
            ExecutorState.CONNECTED,
            info=replace(info, executor_id=ExecutorId("e6"), dbos_version="3.5.0"),
        ),
    )
    rows = {
        row["executor_id"]: row
        for row in (await client.get("/api/v1/apps/orders/executors")).json()
    }
    assert rows["e1"]["compatibility_warning"] is None
    assert rows["e5"]["compatibility_warning"].startswith("unknown client language 'rust'")
    assert rows["e6"]["compatibility_warning"] == (
        "Python client version 3.5.0 is outside the tested matrix "
        "(tested: 2.31.1, 3.2.0, 3.3.0, 3.4.0); some actions may not be supported"
    )


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
    # billing has no executor and no key: it is known from its workflows alone.
    assert response.json() == [
        {"app": "billing", "executors": {}, "workflows": 1},
        {"app": "orders", "executors": {"connected": 1, "dead": 1}, "workflows": 8 + BULK},
    ]


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("app", ["bad%20name", "x" * 129, "%C3%A9", "a!b", "a:b"])
async def test_invalid_app_name_is_400(client: httpx.AsyncClient, app: str) -> None:
    for what in ("executors", "recoveries", "workflows", "workflows/wf-001", "queues"):
        response = await client.get(f"/api/v1/apps/{app}/{what}")
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/json"
        assert "invalid app name" in response.json()["error"]


@pytest.mark.parametrize(
    "path", ["/nope", "/api/v1/apps/orders", "/api/v1/apps/orders/x", "/static/nope.css"]
)
async def test_unknown_route_is_json_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "Not Found"}


async def test_wrong_method_is_json_405(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/apps")
    assert response.status_code == 405
    assert response.json() == {"error": "Method Not Allowed"}


async def test_wrong_method_on_a_page_is_405(client: httpx.AsyncClient) -> None:
    response = await client.delete("/apps/orders/workflows")
    assert response.status_code == 405
    assert response.json() == {"error": "Method Not Allowed"}


async def test_internal_error_is_logged_not_sent(
    seeded_store: Store, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async with seeded_store.sessionmaker.begin() as session:
        await session.execute(text("DROP TABLE workflows"))
    async with make_client() as client:
        api = await client.get("/api/v1/apps/orders/workflows")
        page = await client.get("/apps/orders/workflows", headers={"Accept": "text/html"})
    assert api.status_code == 500
    assert api.json() == {"error": "internal error"}
    assert page.status_code == 500
    assert "internal error" in page.text
    for body in (api.text, page.text):
        assert "no such table" not in body
        assert "sqlite" not in body.lower()
    assert any(r.message.startswith("console: GET") for r in caplog.records)
