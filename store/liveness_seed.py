"""The executors the store last saw connected, as recovery liveness records: what a worker whose
``liveness`` table has no entry of an app starts it from.

A broker that came back empty (``baton up``'s memory-storage broker, restarted) takes the
worker's changelogs with it: the restarted worker would know only the executors the gateways
report from then on, and an executor that died while the broker was away would never be
recovered. Seeded from the store, it is known again: the next snapshot of its gateway no
longer lists it (or its disconnect arrives late), and the usual grace period and recovery follow.
Live executors are refreshed by the same snapshots. Each seed's ``last_seen`` is the seeding
time, not the store's: every gateway gets a whole liveness timeout to report its sessions
before silence counts, so a long outage never makes a live executor look dead.

Must not import Faust, Kafka or the console.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from recovery.state import AppState, ExecutorRecord, ExecutorState
from store.models import ExecutorRow
from streams.ids import AppName, ConnId, ExecutorId, GatewayId
from streams.records import ExecutorInfo


async def liveness_seeds(session: AsyncSession, now_ms: int) -> dict[AppName, AppState]:
    """Per app, its executors that the store says are connected (nothing else: no recoveries,
    a zero watermark, so no timer runs before the app's next event)."""
    rows = (
        await session.scalars(
            select(ExecutorRow).where(ExecutorRow.state == ExecutorState.CONNECTED.value)
        )
    ).all()
    executors: dict[AppName, dict[ExecutorId, ExecutorRecord]] = {}
    for row in rows:
        record = _record(row, now_ms)
        executors.setdefault(AppName(row.app), {})[record.executor_id] = record
    return {app: AppState(app=app, executors=found) for app, found in executors.items()}


def _record(row: ExecutorRow, now_ms: int) -> ExecutorRecord:
    return ExecutorRecord(
        info=ExecutorInfo(
            executor_id=ExecutorId(row.executor_id),
            application_version=row.application_version,
            hostname=row.hostname,
            language=row.language,
            dbos_version=row.dbos_version,
            metadata=row.executor_metadata,
        ),
        gateway=GatewayId(row.gateway),
        conn_id=ConnId(row.conn_id),
        state=ExecutorState.CONNECTED,
        connected_at_ms=_ms(row.connected_at),
        last_seen_ms=now_ms,
        updated_ms=_ms(row.updated_at),
    )


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
