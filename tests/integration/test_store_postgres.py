"""The store on the real PostgreSQL: keys and projections round-trip, in a fresh database per test.

PostgreSQL is required (127.0.0.1:5432, user ``postgres``, trust auth, database ``test`` to connect
to): if it is unreachable the test fails with a clear message; it never skips.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import func, select

from store.database import Store
from store.keys import create_key, list_keys, revoke_key, revoked_key_ids, verify_key
from store.models import AuditRow
from store.projection import (
    AppSummary,
    list_apps,
    list_executors,
    list_recoveries,
    project_app_state,
    record_audit,
)
from streams.exceptions import AuthError
from streams.liveness import AppState, ExecutorRecord, ExecutorState, Recovery, RecoveryState
from streams.records import (
    AppName,
    ConnId,
    ExecutorId,
    ExecutorInfo,
    GatewayId,
    RecoveryDecision,
    RecoveryStep,
)

pytestmark = pytest.mark.integration

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
T0 = 1_700_000_000_000


async def _admin() -> psycopg.AsyncConnection[tuple[object, ...]]:
    try:
        return await psycopg.AsyncConnection.connect(
            PG_ADMIN_DSN, autocommit=True, connect_timeout=10
        )
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is required for integration tests and is unreachable at {PG_ADMIN_DSN}: "
            f"{exc!r}"
        )


@pytest.fixture
async def pg_store() -> AsyncIterator[Store]:
    name = f"baton_store_{uuid4().hex[:12]}"
    admin = await _admin()
    try:
        await admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            async with Store(f"postgresql://postgres@127.0.0.1:5432/{name}") as store:
                yield store
        finally:
            await admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    finally:
        await admin.close()


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
        row, plaintext = await create_key(session, "orders", label="prod")
    async with pg_store.sessionmaker.begin() as session:
        assert await verify_key(session, "orders", plaintext) == row.key_id
        with pytest.raises(AuthError):
            await verify_key(session, "billing", plaintext)
        assert await revoke_key(session, "orders", row.key_id) is True
    async with pg_store.sessionmaker.begin() as session:
        with pytest.raises(AuthError):
            await verify_key(session, "orders", plaintext)
        assert await revoked_key_ids(session, [row.key_id]) == {row.key_id}
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
