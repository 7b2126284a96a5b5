"""Projection of the executors' liveness state into SQL, and the queries the console and the CLI
read it with; also ``upsert_for``, the dialect's ``INSERT ... ON CONFLICT`` every projection uses.

The worker calls ``project_app_state``, an idempotent upsert, because delivery is at-least-once
and a worker that takes over a partition replays. An older state never overwrites a newer row
(latest wins by event time). The audit log is ``store.audit``'s. Must not import Faust, Kafka or
the console.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from recovery.state import AppState, ExecutorRecord, Recovery, RecoveryState
from store.models import (
    ApiKey,
    ExecutorRow,
    GatewayHeardRow,
    RecoveryRow,
    utc_from_ms,
    validate_app_name,
)
from streams.ids import AppName

_EXECUTORS: Table = ExecutorRow.__table__  # type: ignore[assignment]
_RECOVERIES: Table = RecoveryRow.__table__  # type: ignore[assignment]
_GATEWAYS_HEARD: Table = GatewayHeardRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True, kw_only=True)
class AppSummary:
    """One app known to the store, with its executors counted by state."""

    app: AppName
    executors_by_state: Mapping[str, int] = field(default_factory=dict)
    """Executor count per ``ExecutorState`` value; states with no executor are absent."""


def upsert_for(session: AsyncSession, table: Table) -> sqlite.Insert | postgresql.Insert:
    """An ``INSERT`` with ``ON CONFLICT`` support, in the dialect of the session's database.

    Raises:
        NotImplementedError: the database is neither SQLite nor PostgreSQL.
    """
    dialect = session.get_bind().dialect.name
    match dialect:
        case "sqlite":
            return sqlite.insert(table)
        case "postgresql":
            return postgresql.insert(table)
        case _:
            raise NotImplementedError(f"no upsert for the {dialect} dialect")


async def project_app_state(session: AsyncSession, state: AppState) -> None:
    """Upsert every executor, recovery and pod clock (``gateways_heard_ms``) of one app's state;
    a row newer than it is kept.

    Args:
        session: the caller's session; the caller commits.
        state: the app's liveness state, as the worker's table holds it.
    """
    executors = [_executor_values(state.app, e) for e in state.executors.values()]
    if executors:
        await _upsert(session, _EXECUTORS, executors, _executor_is_newer)
    recoveries = [_recovery_values(state.app, r) for r in state.recoveries.values()]
    if recoveries:
        await _upsert(session, _RECOVERIES, recoveries, _recovery_is_newer)
    heard = [
        {"app": state.app, "gateway": gateway, "heard_at": utc_from_ms(ms)}
        for gateway, ms in state.gateways_heard_ms.items()
    ]
    if heard:
        await _upsert(session, _GATEWAYS_HEARD, heard, _heard_is_newer)


async def _upsert(
    session: AsyncSession,
    table: Table,
    rows: list[dict[str, Any]],
    newer: Callable[[Any, Any], ColumnElement[bool]],
) -> None:
    stmt = upsert_for(session, table)
    keys = [c.name for c in table.primary_key.columns]
    stmt = stmt.on_conflict_do_update(
        index_elements=keys,
        set_={name: stmt.excluded[name] for name in rows[0] if name not in keys},
        where=newer(table.c, stmt.excluded),
    )
    await session.execute(stmt, rows)


def _executor_is_newer(current: Any, incoming: Any) -> ColumnElement[bool]:
    # A heartbeat moves last_seen without a state change, so (updated_at, last_seen) orders them.
    return or_(
        incoming.updated_at > current.updated_at,
        and_(
            incoming.updated_at == current.updated_at,
            incoming.last_seen >= current.last_seen,
        ),
    )


def _heard_is_newer(current: Any, incoming: Any) -> ColumnElement[bool]:
    newer: ColumnElement[bool] = incoming.heard_at > current.heard_at
    return newer


def _recovery_is_newer(current: Any, incoming: Any) -> ColumnElement[bool]:
    newer: ColumnElement[bool] = incoming.updated_at >= current.updated_at
    return newer


def _executor_values(app: AppName, record: ExecutorRecord) -> dict[str, Any]:
    info = record.info
    return {
        "app": app,
        "executor_id": info.executor_id,
        "application_version": info.application_version,
        "hostname": info.hostname,
        "language": info.language,
        "dbos_version": info.dbos_version,
        "metadata": None if info.metadata is None else dict(info.metadata),
        "gateway": record.gateway,
        "conn_id": record.conn_id,
        "state": record.state.value,
        "connected_at": utc_from_ms(record.connected_at_ms),
        "last_seen": utc_from_ms(record.last_seen_ms),
        "disconnected_at": _opt_utc(record.disconnected_at_ms),
        "close_code": record.close_code,
        "close_reason": record.close_reason,
        "updated_at": utc_from_ms(record.updated_ms),
    }


def _recovery_values(app: AppName, recovery: Recovery) -> dict[str, Any]:
    succeeded = recovery.state is RecoveryState.SUCCEEDED
    return {
        "app": app,
        "dead_executor_id": recovery.dead_executor_id,
        "declared_at_ms": recovery.declared_at_ms,
        "application_version": recovery.application_version,
        "state": recovery.state.value,
        "attempt": recovery.attempt,
        "target": recovery.target,
        "command_id": recovery.command_id,
        "reason": recovery.reason,
        "declared_at": utc_from_ms(recovery.declared_at_ms),
        "updated_at": utc_from_ms(recovery.updated_ms),
        "succeeded_at": utc_from_ms(recovery.updated_ms) if succeeded else None,
    }


def _opt_utc(epoch_ms: int | None) -> datetime | None:
    return None if epoch_ms is None else utc_from_ms(epoch_ms)


async def list_executors(session: AsyncSession, app: str) -> list[ExecutorRow]:
    """An app's executors, by executor id.

    Raises:
        ValueError: the app name is invalid.
    """
    app_name = validate_app_name(app)
    result = await session.scalars(
        select(ExecutorRow).where(ExecutorRow.app == app_name).order_by(ExecutorRow.executor_id)
    )
    return list(result)


async def list_recoveries(session: AsyncSession, app: str, limit: int = 100) -> list[RecoveryRow]:
    """An app's most recent recoveries, newest declaration first.

    Raises:
        ValueError: the app name is invalid.
    """
    app_name = validate_app_name(app)
    result = await session.scalars(
        select(RecoveryRow)
        .where(RecoveryRow.app == app_name)
        .order_by(RecoveryRow.declared_at_ms.desc(), RecoveryRow.dead_executor_id)
        .limit(limit)
    )
    return list(result)


async def list_apps(session: AsyncSession) -> list[AppSummary]:
    """Every app that has an executor or an API key, by name, with executor counts by state."""
    counts: dict[str, dict[str, int]] = {}
    by_state = await session.execute(
        select(ExecutorRow.app, ExecutorRow.state, func.count()).group_by(
            ExecutorRow.app, ExecutorRow.state
        )
    )
    for app, state, count in by_state:
        counts.setdefault(app, {})[state] = count
    for app in await session.scalars(select(ApiKey.app).distinct()):
        counts.setdefault(app, {})
    return [
        AppSummary(app=AppName(app), executors_by_state=dict(sorted(states.items())))
        for app, states in sorted(counts.items())
    ]
