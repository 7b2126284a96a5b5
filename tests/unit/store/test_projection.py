"""Projections on a real SQLite file: idempotent upserts, latest wins, queries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from recovery.state import AppState, ExecutorRecord, ExecutorState, Recovery, RecoveryState
from store.database import Store, sqlite_url
from store.keys import create_key
from store.models import ExecutorRow, RecoveryRow
from store.projection import (
    AppSummary,
    list_apps,
    list_executors,
    list_recoveries,
    project_app_state,
)
from streams.ids import AppName, CommandId, ConnId, ExecutorId, GatewayId
from streams.records import ExecutorInfo

T0 = 1_700_000_000_000


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        yield store


def executor(
    executor_id: str, *, state: ExecutorState = ExecutorState.CONNECTED, ts_ms: int = T0
) -> ExecutorRecord:
    return ExecutorRecord(
        info=ExecutorInfo(
            executor_id=ExecutorId(executor_id),
            application_version="v1",
            hostname="host-a",
            language="python",
            dbos_version="2.31.1",
            metadata={"region": "eu", "tags": ["a", "b"]},
        ),
        gateway=GatewayId("gw-1"),
        conn_id=ConnId(f"conn-{executor_id}"),
        state=state,
        connected_at_ms=T0 - 5_000,
        last_seen_ms=ts_ms,
        updated_ms=ts_ms,
    )


def recovery(dead: str, *, state: RecoveryState = RecoveryState.PENDING) -> Recovery:
    return Recovery(
        dead_executor_id=ExecutorId(dead),
        application_version="v1",
        state=state,
        declared_at_ms=T0 + 1_000,
        updated_ms=T0 + 1_000,
        reason="no heartbeat for 30s",
    )


def app_state(*executors: ExecutorRecord, recoveries: tuple[Recovery, ...] = ()) -> AppState:
    return AppState(
        app=AppName("orders"),
        executors={e.executor_id: e for e in executors},
        recoveries={r.dead_executor_id: r for r in recoveries},
    )


async def snapshot(store: Store) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    def as_dict(row: Any) -> dict[str, Any]:
        return {c.key: getattr(row, c.key) for c in row.__mapper__.column_attrs}

    async with store.sessionmaker.begin() as session:
        executors = await session.scalars(select(ExecutorRow).order_by(ExecutorRow.executor_id))
        recoveries = await session.scalars(select(RecoveryRow))
        return [as_dict(r) for r in executors], [as_dict(r) for r in recoveries]


async def project(store: Store, state: AppState) -> None:
    async with store.sessionmaker.begin() as session:
        await project_app_state(session, state)


async def test_projection_stores_every_field(store: Store) -> None:
    await project(store, app_state(executor("e1"), recoveries=(recovery("e0"),)))
    async with store.sessionmaker.begin() as session:
        [row] = await list_executors(session, "orders")
        [rec] = await list_recoveries(session, "orders")
    assert row.executor_id == "e1"
    assert row.executor_metadata == {"region": "eu", "tags": ["a", "b"]}
    assert (row.hostname, row.language, row.dbos_version) == ("host-a", "python", "2.31.1")
    assert row.state == "connected"
    assert row.connected_at == datetime.fromtimestamp((T0 - 5_000) / 1000, tz=UTC)
    assert row.last_seen.tzinfo is not None
    assert row.last_seen.utcoffset() is not None
    assert row.last_seen.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert row.disconnected_at is None
    assert (rec.dead_executor_id, rec.state, rec.attempt) == ("e0", "pending", 0)
    assert rec.declared_at_ms == T0 + 1_000
    assert rec.declared_at == datetime.fromtimestamp((T0 + 1_000) / 1000, tz=UTC)
    assert rec.succeeded_at is None


async def test_projecting_the_same_state_twice_changes_nothing(store: Store) -> None:
    state = app_state(executor("e1"), executor("e2"), recoveries=(recovery("e0"),))
    await project(store, state)
    first = await snapshot(store)
    await project(store, state)
    assert await snapshot(store) == first
    assert len(first[0]) == 2
    assert len(first[1]) == 1


async def test_newer_state_overwrites(store: Store) -> None:
    await project(store, app_state(executor("e1"), recoveries=(recovery("e0"),)))
    gone = replace(
        executor("e1", state=ExecutorState.DISCONNECTED, ts_ms=T0 + 9_000),
        disconnected_at_ms=T0 + 9_000,
        close_code=1006,
        close_reason="abnormal closure",
    )
    done = replace(
        recovery("e0", state=RecoveryState.SUCCEEDED),
        attempt=1,
        target=ExecutorId("e1"),
        command_id=CommandId("orders/e0/1"),
        updated_ms=T0 + 4_000,
    )
    await project(store, app_state(gone, recoveries=(done,)))
    async with store.sessionmaker.begin() as session:
        [row] = await list_executors(session, "orders")
        [rec] = await list_recoveries(session, "orders")
    assert (row.state, row.close_code, row.close_reason) == (
        "disconnected",
        1006,
        "abnormal closure",
    )
    assert row.disconnected_at == datetime.fromtimestamp((T0 + 9_000) / 1000, tz=UTC)
    assert (rec.state, rec.attempt, rec.target, rec.command_id) == (
        "succeeded",
        1,
        "e1",
        "orders/e0/1",
    )
    assert rec.succeeded_at == datetime.fromtimestamp((T0 + 4_000) / 1000, tz=UTC)


async def test_heartbeat_only_state_moves_last_seen(store: Store) -> None:
    await project(store, app_state(executor("e1")))
    seen_later = replace(executor("e1"), last_seen_ms=T0 + 15_000)
    await project(store, app_state(seen_later))
    async with store.sessionmaker.begin() as session:
        [row] = await list_executors(session, "orders")
    assert row.last_seen == datetime.fromtimestamp((T0 + 15_000) / 1000, tz=UTC)


def at(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


async def test_a_connected_executor_was_last_seen_when_its_pod_last_spoke(store: Store) -> None:
    """The worker writes each pod's clock, not every executor's: a connected executor's
    ``seen_at`` is its pod's, unless its own row says later; others keep their own."""
    dead = executor("e2", state=ExecutorState.DEAD)
    elsewhere = replace(executor("e3"), gateway=GatewayId("gw-2"))
    ahead = replace(executor("e4"), last_seen_ms=T0 + 30_000)
    await project(store, app_state(executor("e1"), dead, elsewhere, ahead))
    pod = GatewayId("gw-1")
    await project(store, replace(app_state(), gateways_heard_ms={pod: T0 + 20_000}))
    await project(store, replace(app_state(), gateways_heard_ms={pod: T0 + 12_000}))  # replayed
    async with store.sessionmaker.begin() as session:
        rows = {row.executor_id: row for row in await list_executors(session, "orders")}
    assert rows["e1"].last_seen == at(T0)  # its row was not written again
    assert rows["e1"].seen_at == at(T0 + 20_000)
    assert rows["e2"].seen_at == at(T0)  # dead: when it was last seen alive
    assert rows["e3"].seen_at == at(T0)  # another pod, never heard
    assert rows["e4"].seen_at == at(T0 + 30_000)


async def test_a_pods_clock_is_kept_per_app(store: Store) -> None:
    await project(store, app_state(executor("e1")))
    billing = AppState(
        app=AppName("billing"),
        executors={ExecutorId("e1"): executor("e1")},
        gateways_heard_ms={GatewayId("gw-1"): T0 + 40_000},
    )
    await project(store, billing)
    async with store.sessionmaker.begin() as session:
        [orders_row] = await list_executors(session, "orders")
        [billing_row] = await list_executors(session, "billing")
    assert orders_row.seen_at == at(T0)
    assert billing_row.seen_at == at(T0 + 40_000)


async def test_older_state_does_not_overwrite(store: Store) -> None:
    newer = executor("e1", state=ExecutorState.DEAD, ts_ms=T0 + 9_000)
    await project(store, app_state(newer))
    await project(store, app_state(executor("e1")))  # a replayed, older state
    async with store.sessionmaker.begin() as session:
        [row] = await list_executors(session, "orders")
    assert row.state == "dead"


async def test_same_executor_id_in_two_apps_is_two_rows(store: Store) -> None:
    await project(store, app_state(executor("e1")))
    await project(store, replace(app_state(executor("e1")), app=AppName("billing")))
    async with store.sessionmaker.begin() as session:
        assert len(await list_executors(session, "orders")) == 1
        assert len(await list_executors(session, "billing")) == 1


async def test_empty_state_projects_nothing(store: Store) -> None:
    await project(store, app_state())
    assert await snapshot(store) == ([], [])


async def test_list_recoveries_newest_first_with_limit(store: Store) -> None:
    recoveries = tuple(
        replace(recovery(f"e{i}"), declared_at_ms=T0 + i, updated_ms=T0 + i) for i in range(5)
    )
    await project(store, app_state(recoveries=recoveries))
    async with store.sessionmaker.begin() as session:
        rows = await list_recoveries(session, "orders", limit=3)
    assert [r.dead_executor_id for r in rows] == ["e4", "e3", "e2"]


async def test_list_apps_counts_executors_by_state(store: Store) -> None:
    await project(
        store,
        app_state(
            executor("e1"),
            executor("e2"),
            executor("e3", state=ExecutorState.DEAD, ts_ms=T0 + 1),
        ),
    )
    async with store.sessionmaker.begin() as session:
        await create_key(session, "billing")
    async with store.sessionmaker.begin() as session:
        apps = await list_apps(session)
    assert apps == [
        AppSummary(app=AppName("billing"), executors_by_state={}),
        AppSummary(app=AppName("orders"), executors_by_state={"connected": 2, "dead": 1}),
    ]


async def test_queries_reject_invalid_app_names(store: Store) -> None:
    async with store.sessionmaker.begin() as session:
        with pytest.raises(ValueError, match="invalid app name"):
            await list_executors(session, "no spaces")
        with pytest.raises(ValueError, match="invalid app name"):
            await list_recoveries(session, "")
