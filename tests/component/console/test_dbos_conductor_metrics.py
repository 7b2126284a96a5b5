"""The console's ``/metrics`` with ``dbos_conductor_metrics``
(``BATON_CONSOLE_DBOS_CONDUCTOR_METRICS=1``): DBOS Conductor's ``dbos_conductor_v1_`` families,
computed from a real store holding workflows of two apps across two minutes, read back with
Prometheus' own text parser; absent without the setting.
``tests/integration/test_dbos_conductor_metrics_postgres.py`` runs these on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from prometheus_client.parser import text_string_to_metric_families

from console.app import create_app
from recovery.state import AppState, ExecutorRecord, ExecutorState
from runtime.clock import wall_ms
from store.database import Store, sqlite_url
from store.projection import project_app_state
from store.workflow_projection import upsert_workflows
from streams.ids import AppName, ExecutorId
from streams.records import ExecutorInfo, WorkflowStatus
from tests.component.console.seed import executor, workflow
from tests.console_access import TEST_ACCESS

SHOP = "shop"
BILLING = "billing"
P = "dbos_conductor_v1_"

Series = dict[frozenset[tuple[str, str]], tuple[float, float | None]]
"""Label set -> (value, timestamp in seconds or None)."""


@pytest.fixture
async def conductor_store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        yield store


async def a_steady_minute(margin_s: float = 20.0) -> int:
    """The start (epoch ms) of the last completed minute, once at least ``margin_s`` of the
    current minute are left (so the console's window is the same during the test)."""
    now = wall_ms()
    left_s = (60_000 - now % 60_000) / 1000
    if left_s < margin_s:
        await asyncio.sleep(left_s + 0.1)
        now = wall_ms()
    return now - now % 60_000 - 60_000


def wf(workflow_id: str, status: str, app: str, name: str, **fields: object) -> WorkflowStatus:
    return workflow(workflow_id, status, 0, app=app, name=name, **fields)


def world(w: int) -> list[WorkflowStatus]:
    """Workflows around the window ``[w, w + 60 s)``."""
    return [
        # shop, checkout, no queue: 3 created in the window, 1 success, 2 failures.
        wf("a1", "SUCCESS", SHOP, "checkout", created_at_ms=w + 1_000, completed_at_ms=w + 5_000),
        wf("a2", "ERROR", SHOP, "checkout", created_at_ms=w + 2_000, completed_at_ms=w + 3_000),
        wf(
            "a9",
            "MAX_RECOVERY_ATTEMPTS_EXCEEDED",
            SHOP,
            "checkout",
            created_at_ms=w - 61_000,
            completed_at_ms=w + 59_999,
        ),
        # Completed at the window's end: counted next minute (created in this one).
        wf(
            "a10",
            "SUCCESS",
            SHOP,
            "checkout",
            created_at_ms=w + 59_000,
            completed_at_ms=w + 60_000,
        ),
        wf("a8", "CANCELLED", SHOP, "checkout", created_at_ms=w - 90_000, completed_at_ms=w - 1),
        wf("a7", "PENDING", SHOP, "checkout", created_at_ms=w - 120_000),
        # shop, ship on the queue shipping.
        wf(
            "a3",
            "SUCCESS",
            SHOP,
            "ship",
            queue_name="shipping",
            created_at_ms=w - 30_000,
            dequeued_at_ms=w + 10_000,
            completed_at_ms=w + 40_000,
        ),
        wf(
            "a4",
            "SUCCESS",
            SHOP,
            "ship",
            queue_name="shipping",
            created_at_ms=w + 20_000,
            dequeued_at_ms=w + 21_000,
            completed_at_ms=w + 22_000,
        ),
        wf("a5", "ENQUEUED", SHOP, "ship", queue_name="shipping", created_at_ms=w - 50_000),
        wf("a6", "ENQUEUED", SHOP, "ship", queue_name="shipping", created_at_ms=w + 30_000),
        # billing.
        wf("b1", "CANCELLED", BILLING, "invoice", created_at_ms=w + 100, completed_at_ms=w + 200),
        wf("b2", "PENDING", BILLING, "invoice", created_at_ms=w + 500),
    ]


def versioned(
    executor_id: str, state: ExecutorState, version: str
) -> tuple[ExecutorId, ExecutorRecord]:
    record = executor(executor_id, state)
    info: ExecutorInfo = replace(record.info, application_version=version)
    return ExecutorId(executor_id), replace(record, info=info)


async def fill(store: Store, w: int) -> None:
    executors = dict(
        [
            versioned("e1", ExecutorState.CONNECTED, "v1"),
            versioned("e0", ExecutorState.DEAD, "v1"),
            versioned("e2", ExecutorState.DISCONNECTED, "v2"),
        ]
    )
    async with store.sessionmaker.begin() as session:
        await project_app_state(session, AppState(app=AppName(SHOP), executors=executors))
        await upsert_workflows(session, world(w))


async def scrape(store: Store, *, enabled: bool) -> tuple[dict[str, str], dict[str, Series]]:
    """The console's ``/metrics``: each family's type and its samples."""
    app = create_app(store, access=TEST_ACCESS, dbos_conductor_metrics=enabled)
    async with LifespanManager(app) as running:
        transport = httpx.ASGITransport(app=running.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            response = await client.get("/metrics")
    assert response.status_code == 200
    types: dict[str, str] = {}
    series: dict[str, Series] = {}
    for family in text_string_to_metric_families(response.text):
        types[family.name] = family.type
        for s in family.samples:
            stamp = None if s.timestamp is None else float(s.timestamp)
            series.setdefault(s.name, {})[frozenset(s.labels.items())] = (s.value, stamp)
    return types, series


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


def shop(name: str, queue: str | None = None) -> frozenset[tuple[str, str]]:
    extra = {} if queue is None else {"queue_name": queue}
    return labels(application=SHOP, workflow_name=name, **extra)


def billing(name: str, queue: str | None = None) -> frozenset[tuple[str, str]]:
    extra = {} if queue is None else {"queue_name": queue}
    return labels(application=BILLING, workflow_name=name, **extra)


async def test_the_families_are_computed_from_the_store(conductor_store: Store) -> None:
    w = await a_steady_minute()
    await fill(conductor_store, w)
    types, series = await scrape(conductor_store, enabled=True)
    stamp = w / 1000

    def rate(n: int) -> tuple[float, float | None]:
        return (n / 60, stamp)

    assert {n for n in types if n.startswith(P)} == {
        P + name
        for name in (
            "workflow_started_rate",
            "workflow_dequeued_rate",
            "workflow_success_rate",
            "workflow_failed_rate",
            "workflow_cancelled_rate",
            "workflow_enqueued_count",
            "workflow_pending_count",
            "workflow_oldest_enqueued_timestamp_seconds",
            "workflow_oldest_pending_timestamp_seconds",
            "workflow_max_queue_wait_seconds",
            "workflow_max_total_latency_seconds",
            "executor_count",
        )
    }
    assert {types[n] for n in types if n.startswith(P)} == {"gauge"}
    assert series[P + "workflow_started_rate"] == {
        shop("checkout", ""): rate(3),
        shop("ship", "shipping"): rate(2),
        billing("invoice", ""): rate(2),
    }
    assert series[P + "workflow_dequeued_rate"] == {shop("ship", "shipping"): rate(2)}
    assert series[P + "workflow_success_rate"] == {
        shop("checkout", ""): rate(1),
        shop("ship", "shipping"): rate(2),
    }
    assert series[P + "workflow_failed_rate"] == {shop("checkout", ""): rate(2)}
    assert series[P + "workflow_cancelled_rate"] == {billing("invoice", ""): rate(1)}
    assert series[P + "workflow_enqueued_count"] == {shop("ship", "shipping"): (2.0, None)}
    assert series[P + "workflow_pending_count"] == {
        shop("checkout"): (1.0, None),
        billing("invoice"): (1.0, None),
    }
    assert series[P + "workflow_oldest_enqueued_timestamp_seconds"] == {
        shop("ship", "shipping"): ((w - 50_000) / 1000, None)
    }
    assert series[P + "workflow_oldest_pending_timestamp_seconds"] == {
        shop("checkout"): ((w - 120_000) / 1000, None),
        billing("invoice"): ((w + 500) / 1000, None),
    }
    assert series[P + "workflow_max_queue_wait_seconds"] == {
        shop("ship", "shipping"): (40.0, stamp)
    }
    assert series[P + "workflow_max_total_latency_seconds"] == {
        shop("checkout", ""): (4.0, stamp),
        shop("ship", "shipping"): (70.0, stamp),
    }
    assert series[P + "executor_count"] == {
        labels(application=SHOP, status="HEALTHY", application_version="v1"): (1.0, None),
        labels(application=SHOP, status="HEALTHY", application_version="v2"): (0.0, None),
    }


async def test_the_families_are_absent_without_the_setting(conductor_store: Store) -> None:
    w = await a_steady_minute()
    await fill(conductor_store, w)
    types, series = await scrape(conductor_store, enabled=False)
    assert not [n for n in types if n.startswith(P)]
    assert series["baton_app_workflows_enqueued"]  # the store was read all the same


async def test_the_values_move_when_the_rows_change(conductor_store: Store) -> None:
    w = await a_steady_minute()
    await fill(conductor_store, w)
    # a6 is dequeued (PENDING), then a5 succeeds: nothing is enqueued any more.
    dequeued = wf(
        "a6",
        "PENDING",
        SHOP,
        "ship",
        queue_name="shipping",
        created_at_ms=w + 30_000,
        dequeued_at_ms=w + 31_000,
        updated_at_ms=w + 31_000,
    )
    async with conductor_store.sessionmaker.begin() as session:
        await upsert_workflows(session, [dequeued])
    _, series = await scrape(conductor_store, enabled=True)
    assert series[P + "workflow_enqueued_count"] == {shop("ship", "shipping"): (1.0, None)}
    assert series[P + "workflow_dequeued_rate"][shop("ship", "shipping")][0] == 3 / 60
    assert series[P + "workflow_pending_count"][shop("ship")] == (1.0, None)
    assert series[P + "workflow_oldest_pending_timestamp_seconds"][shop("ship")] == (
        (w + 30_000) / 1000,
        None,
    )

    done = wf(
        "a5",
        "SUCCESS",
        SHOP,
        "ship",
        queue_name="shipping",
        created_at_ms=w - 50_000,
        dequeued_at_ms=w + 44_000,
        completed_at_ms=w + 45_000,
        updated_at_ms=w + 45_000,
    )
    async with conductor_store.sessionmaker.begin() as session:
        await upsert_workflows(session, [done])
    _, series = await scrape(conductor_store, enabled=True)
    assert P + "workflow_enqueued_count" not in series
    assert P + "workflow_oldest_enqueued_timestamp_seconds" not in series
    assert series[P + "workflow_success_rate"][shop("ship", "shipping")][0] == 3 / 60
    assert series[P + "workflow_max_queue_wait_seconds"][shop("ship", "shipping")][0] == 94.0
    assert series[P + "workflow_max_total_latency_seconds"][shop("ship", "shipping")][0] == 95.0
