"""The store on the real PostgreSQL: keys and projections round-trip, in a fresh database per test.

PostgreSQL is required (``BATON_TEST_PG_URL``, user ``postgres``, trust auth, database ``test`` to
connect to): if it is unreachable the test fails with a clear message; it never skips.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from psycopg import sql
from sqlalchemy import Connection, func, select
from sqlalchemy.ext.asyncio import create_async_engine

from recovery.state import AppState, ExecutorRecord, ExecutorState, Recovery, RecoveryState
from store.audit import record_audit
from store.database import BASELINE_TABLES, Store, alembic_config, parse_url
from store.keys import KeyState, create_key, list_keys, revoke_key, unusable_keys, verify_key
from store.models import NO_NAME, NO_QUEUE, AuditRow, Base, WorkflowCountRow, WorkflowRow
from store.paging import SortOrder
from store.projection import (
    AppSummary,
    list_apps,
    list_executors,
    list_recoveries,
    project_app_state,
)
from store.workflow_projection import replace_steps, upsert_workflows
from store.workflow_queries import (
    QueueSummary,
    WorkflowFilter,
    count_by_status,
    list_queued,
    list_steps,
    list_workflows,
    queue_summaries,
    workflow_totals,
)
from store.workflow_rows import status_from_row
from streams.exceptions import AuthError
from streams.ids import AppName, ConnId, ExecutorId, GatewayId, WorkflowId
from streams.records import (
    ExecutorInfo,
    RecoveryDecision,
    RecoveryStep,
    StepInfo,
    WorkflowState,
    WorkflowStatus,
    WorkflowSteps,
)
from tests.dbos_app.system_db import ADMIN_DB_URL, database_url

pytestmark = pytest.mark.integration

T0 = 1_700_000_000_000


async def _admin() -> psycopg.AsyncConnection[tuple[object, ...]]:
    try:
        return await psycopg.AsyncConnection.connect(
            ADMIN_DB_URL, autocommit=True, connect_timeout=10
        )
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is required for integration tests and is unreachable at {ADMIN_DB_URL}: "
            f"{exc!r}"
        )


DEFAULT_LOCALE = sql.SQL("")


@asynccontextmanager
async def _fresh_database(options: sql.Composable = DEFAULT_LOCALE) -> AsyncIterator[str]:
    name = f"baton_store_{uuid4().hex[:12]}"
    admin = await _admin()
    try:
        await admin.execute(sql.SQL("CREATE DATABASE {} {}").format(sql.Identifier(name), options))
        try:
            yield database_url(name)
        finally:
            await admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    finally:
        await admin.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """The URL of a fresh, empty database, dropped after the test."""
    async with _fresh_database() as url:
        yield url


ICU_EN_US = sql.SQL("TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
"""A database whose default collation is not code point order (ICU sorts '_' before '-')."""


@pytest.fixture(params=["default", "icu-en-US"])
async def pg_any_locale_store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    options = ICU_EN_US if request.param == "icu-en-US" else DEFAULT_LOCALE
    async with _fresh_database(options) as url, Store(url) as store:
        yield store


@pytest.fixture
async def pg_store(pg_url: str) -> AsyncIterator[Store]:
    async with Store(pg_url) as store:
        yield store


def _executor(executor_id: str, state: ExecutorState, ts_ms: int) -> ExecutorRecord:
    return ExecutorRecord(
        info=ExecutorInfo(
            executor_id=ExecutorId(executor_id),
            application_version="v1",
            hostname="host-a",
            language="python",
            dbos_version="2.31.1",
            metadata={"region": "eu"},
        ),
        gateway=GatewayId("gw-1"),
        conn_id=ConnId(f"conn-{executor_id}"),
        state=state,
        connected_at_ms=T0,
        last_seen_ms=ts_ms,
        updated_ms=ts_ms,
    )


def _state(*executors: ExecutorRecord, recoveries: tuple[Recovery, ...] = ()) -> AppState:
    return AppState(
        app=AppName("orders"),
        executors={e.executor_id: e for e in executors},
        recoveries={r.dead_executor_id: r for r in recoveries},
    )


async def test_keys_round_trip(pg_store: Store) -> None:
    async with pg_store.sessionmaker.begin() as session:
        row, plaintext = await create_key(session, "orders", name="prod")
    async with pg_store.sessionmaker.begin() as session:
        assert await verify_key(session, "orders", plaintext) == row.key_id
        with pytest.raises(AuthError):
            await verify_key(session, "billing", plaintext)
        assert await revoke_key(session, "orders", row.key_id) is True
    async with pg_store.sessionmaker.begin() as session:
        with pytest.raises(AuthError):
            await verify_key(session, "orders", plaintext)
        assert await unusable_keys(session, [row.key_id]) == {row.key_id: KeyState.REVOKED}
        [listed] = await list_keys(session, "orders")
    assert listed.revoked_at is not None
    assert listed.revoked_at.tzinfo is not None


async def test_projection_round_trip(pg_store: Store) -> None:
    pending = Recovery(
        dead_executor_id=ExecutorId("e0"),
        application_version="v1",
        state=RecoveryState.PENDING,
        declared_at_ms=T0 + 1_000,
        updated_ms=T0 + 1_000,
        reason="no heartbeat",
    )
    first = _state(
        _executor("e1", ExecutorState.CONNECTED, T0),
        _executor("e0", ExecutorState.DEAD, T0 + 1_000),
        recoveries=(pending,),
    )
    for _ in range(2):  # the second projection is a replay: no change
        async with pg_store.sessionmaker.begin() as session:
            await project_app_state(session, first)
    newer = _state(
        _executor("e1", ExecutorState.DISCONNECTED, T0 + 5_000),
        recoveries=(replace(pending, state=RecoveryState.SUCCEEDED, updated_ms=T0 + 3_000),),
    )
    async with pg_store.sessionmaker.begin() as session:
        await project_app_state(session, newer)
    async with pg_store.sessionmaker.begin() as session:
        await project_app_state(session, first)  # an older state, replayed late: ignored
    async with pg_store.sessionmaker.begin() as session:
        executors = await list_executors(session, "orders")
        [recovery] = await list_recoveries(session, "orders")
        apps = await list_apps(session)
    assert [(e.executor_id, e.state) for e in executors] == [("e0", "dead"), ("e1", "disconnected")]
    assert executors[1].executor_metadata == {"region": "eu"}
    assert executors[1].updated_at == datetime.fromtimestamp((T0 + 5_000) / 1000, tz=UTC)
    assert recovery.state == "succeeded"
    assert recovery.succeeded_at == datetime.fromtimestamp((T0 + 3_000) / 1000, tz=UTC)
    assert apps == [
        AppSummary(app=AppName("orders"), executors_by_state={"dead": 1, "disconnected": 1})
    ]


async def test_a_connected_executor_is_seen_when_its_pod_last_spoke(pg_store: Store) -> None:
    pod = GatewayId("gw-1")
    live = _executor("e1", ExecutorState.CONNECTED, T0)
    dead = _executor("e0", ExecutorState.DEAD, T0)
    for heard_ms in (T0 + 20_000, T0 + 10_000):  # the older one replayed late: ignored
        async with pg_store.sessionmaker.begin() as session:
            await project_app_state(
                session, replace(_state(live, dead), gateways_heard_ms={pod: heard_ms})
            )
    async with pg_store.sessionmaker.begin() as session:
        rows = {row.executor_id: row for row in await list_executors(session, "orders")}
    assert rows["e1"].seen_at == datetime.fromtimestamp((T0 + 20_000) / 1000, tz=UTC)
    assert rows["e1"].last_seen == datetime.fromtimestamp(T0 / 1000, tz=UTC)
    assert rows["e0"].seen_at == datetime.fromtimestamp(T0 / 1000, tz=UTC)


async def test_audit_replay_is_idempotent(pg_store: Store) -> None:
    decisions = [
        RecoveryDecision(
            app=AppName("orders"),
            dead_executor_id=ExecutorId("e0"),
            application_version="v1",
            step=step,
            reason="why",
            ts_ms=T0 + i,
        )
        for i, step in enumerate((RecoveryStep.DECLARED_DEAD, RecoveryStep.STRANDED))
    ]
    for _ in range(2):
        async with pg_store.sessionmaker.begin() as session:
            await record_audit(session, decisions)
    async with pg_store.sessionmaker.begin() as session:
        assert await session.scalar(select(func.count()).select_from(AuditRow)) == 2


# -- migrations -----------------------------------------------------------------------------------

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def _differences(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def test_migrated_schema_matches_the_models(pg_store: Store) -> None:
    async with pg_store.engine.connect() as conn:
        assert await conn.run_sync(_differences) == []
        assert await conn.run_sync(_revision) == HEAD


async def test_a_create_all_database_is_stamped_then_upgraded(pg_url: str) -> None:
    legacy = create_async_engine(parse_url(pg_url))
    try:
        async with legacy.begin() as conn:
            await conn.run_sync(
                lambda c: Base.metadata.create_all(
                    c, tables=[Base.metadata.tables[t] for t in sorted(BASELINE_TABLES)]
                )
            )
    finally:
        await legacy.dispose()
    async with Store(pg_url) as store:
        async with store.sessionmaker.begin() as session:
            await create_key(session, "orders", name="kept")
        async with store.engine.connect() as conn:
            assert await conn.run_sync(_revision) == HEAD
            assert await conn.run_sync(_differences) == []


async def test_concurrent_starts_migrate_once(pg_url: str) -> None:
    stores = [Store(pg_url) for _ in range(6)]
    try:
        await asyncio.gather(*(store.start() for store in stores))
        async with stores[-1].engine.connect() as conn:
            assert await conn.run_sync(_revision) == HEAD
    finally:
        for store in stores:
            await store.stop()


# -- workflows ------------------------------------------------------------------------------------


def _wf(workflow_id: str, status: str, observed: int, **fields: object) -> WorkflowStatus:
    values: dict[str, object] = {
        "app": AppName("orders"),
        "workflow_id": WorkflowId(workflow_id),
        "status": status,
        "observed_at_ms": observed,
        "updated_at_ms": observed,
        "created_at_ms": T0,
        **fields,
    }
    return WorkflowStatus(**values)  # type: ignore[arg-type]


async def _upsert(store: Store, records: list[WorkflowStatus]) -> int:
    async with store.sessionmaker.begin() as session:
        return await upsert_workflows(session, records)


async def test_workflow_upsert_is_latest_wins_in_any_order(pg_store: Store) -> None:
    records = [
        _wf("wf-1", WorkflowState.ENQUEUED, T0, queue_name="q", input="in", has_input=True),
        _wf("wf-1", WorkflowState.PENDING, T0 + 1, queue_name="q"),
        _wf("wf-1", WorkflowState.SUCCESS, T0 + 2, queue_name="q", output="out", has_output=True),
        _wf("wf-2", WorkflowState.PENDING, T0, name="n"),
        _wf("wf-2", WorkflowState.ERROR, T0 + 5, name="n", error="boom", has_output=True),
    ]
    expected = {
        "wf-1": replace(records[2], input="in", has_input=True),
        "wf-2": records[4],
    }
    rng = random.Random(3)
    for _ in range(3):  # the same records again, shuffled and split: nothing changes
        replayed = records * 2
        rng.shuffle(replayed)
        for batch in (replayed[:3], replayed[3:]):
            await _upsert(pg_store, batch)
        async with pg_store.sessionmaker() as session:
            rows = await session.scalars(select(WorkflowRow))
            assert {row.workflow_id: status_from_row(row) for row in rows} == expected
    assert await _upsert(pg_store, records) == 0
    async with pg_store.sessionmaker() as session:
        counts = await session.scalars(select(WorkflowCountRow).where(WorkflowCountRow.n != 0))
        assert {(c.name, c.queue_name, c.status): c.n for c in counts} == {
            (NO_NAME, "q", WorkflowState.SUCCESS): 1,
            ("n", NO_QUEUE, WorkflowState.ERROR): 1,
        }
        assert await workflow_totals(session) == {"orders": 2}


async def test_concurrent_projections_keep_counts_exact(pg_url: str) -> None:
    async with Store(pg_url) as first, Store(pg_url) as second:

        async def project(store: Store, offset: int) -> None:
            for i in range(10):
                status = (WorkflowState.PENDING, WorkflowState.SUCCESS)[(i + offset) % 2]
                await _upsert(
                    store, [_wf(f"wf-{j}", status, T0 + 2 * i + offset) for j in range(30)]
                )

        await asyncio.gather(project(first, 0), project(second, 1))
        async with first.sessionmaker() as session:
            assert await count_by_status(session, "orders", WorkflowFilter()) == {
                WorkflowState.PENDING: 30  # the last write: i=9, offset 1
            }
            rows = await session.execute(
                select(WorkflowRow.status, func.count()).group_by(WorkflowRow.status)
            )
            assert dict(rows.all()) == {WorkflowState.PENDING: 30}


async def test_workflow_lists_pages_and_queues(pg_any_locale_store: Store) -> None:
    pg_store = pg_any_locale_store
    statuses = (WorkflowState.PENDING, WorkflowState.ENQUEUED, WorkflowState.ERROR)
    records = [
        _wf(
            f"wf-{i:03d}",
            statuses[i % 3],
            T0,
            created_at_ms=T0 + i // 3,
            name=("a", "b")[i % 2],
            queue_name="q" if i % 3 == 1 else None,
        )
        for i in range(120)
    ]
    # Ids a locale collation would order differently from code points: prefix and order still hold.
    records += [
        _wf(wid, WorkflowState.SUCCESS, T0, created_at_ms=T0 - 1) for wid in ("x-b", "xa", "x_c")
    ]
    await _upsert(pg_store, records)
    async with pg_store.sessionmaker() as session:
        for sort in SortOrder:
            for flt in (WorkflowFilter(), WorkflowFilter(statuses=statuses[:2], name="a")):
                everything = await list_workflows(session, "orders", flt, limit=1000, sort=sort)
                seen, cursor = [], None
                while True:
                    page = await list_workflows(
                        session, "orders", flt, limit=7, cursor=cursor, sort=sort
                    )
                    seen += [row.workflow_id for row in page.rows]
                    cursor = page.next_cursor
                    if cursor is None:
                        break
                assert seen == [row.workflow_id for row in everything.rows]
        newest = await list_workflows(session, "orders", WorkflowFilter(), limit=2)
        prefixed = await list_workflows(
            session, "orders", WorkflowFilter(workflow_id_prefix="x"), limit=10
        )
        counts = await count_by_status(session, "orders", WorkflowFilter(statuses=("ERROR",)))
        named = await count_by_status(session, "orders", WorkflowFilter(name="a"))
        summaries = await queue_summaries(session, "orders")
        queued = await list_queued(session, "orders", queue_name="q", limit=3, offset=0)
    assert [r.workflow_id for r in newest.rows] == ["wf-119", "wf-118"]
    assert [r.workflow_id for r in prefixed.rows] == ["xa", "x_c", "x-b"]  # code point order
    assert counts == {"ENQUEUED": 40, "ERROR": 40, "PENDING": 40, "SUCCESS": 3}
    assert named == {"ENQUEUED": 20, "ERROR": 20, "PENDING": 20}
    assert summaries == [QueueSummary(queue_name="q", enqueued=40, pending=0, delayed=0)]
    assert [r.workflow_id for r in queued] == ["wf-001", "wf-004", "wf-007"]


async def test_steps_are_replaced_by_the_latest_listing(pg_store: Store) -> None:
    def listing(observed: int, *names: str) -> WorkflowSteps:
        return WorkflowSteps(
            app=AppName("orders"),
            workflow_id=WorkflowId("wf-1"),
            steps=tuple(
                StepInfo(function_id=i, function_name=n) for i, n in enumerate(names, start=1)
            ),
            observed_at_ms=observed,
        )

    for batch in ([listing(T0 + 1, "a", "b")], [listing(T0 + 2, "a", "b", "c"), listing(T0, "a")]):
        async with pg_store.sessionmaker.begin() as session:
            await replace_steps(session, batch)
    async with pg_store.sessionmaker() as session:
        assert [s.function_name for s in await list_steps(session, "orders", "wf-1")] == [
            "a",
            "b",
            "c",
        ]
