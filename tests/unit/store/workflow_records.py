"""Workflow records and store helpers shared by the workflow store's tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from store.database import Store
from store.models import NO_NAME, NO_QUEUE, WorkflowCountRow, WorkflowRow
from store.workflow_projection import upsert_workflows
from store.workflow_rows import status_from_row
from streams.ids import AppName, WorkflowId
from streams.records import WorkflowState, WorkflowStatus

T0 = 1_700_000_000_000


def wf(
    workflow_id: str,
    status: str = WorkflowState.PENDING,
    *,
    app: str = "orders",
    updated: int | None = T0,
    observed: int = T0,
    **fields: Any,
) -> WorkflowStatus:
    return WorkflowStatus(
        app=AppName(app),
        workflow_id=WorkflowId(workflow_id),
        status=status,
        updated_at_ms=updated,
        observed_at_ms=observed,
        **{"created_at_ms": T0, **fields},
    )


async def upsert(store: Store, *records: WorkflowStatus) -> int:
    async with store.sessionmaker.begin() as session:
        return await upsert_workflows(session, records)


async def stored(store: Store, app: str = "orders") -> dict[str, WorkflowStatus]:
    async with store.sessionmaker() as session:
        rows = await session.scalars(select(WorkflowRow).where(WorkflowRow.app == app))
        return {row.workflow_id: status_from_row(row) for row in rows}


async def counters(store: Store) -> dict[tuple[str, str, str, str], int]:
    async with store.sessionmaker() as session:
        rows = await session.scalars(select(WorkflowCountRow).where(WorkflowCountRow.n != 0))
        return {(r.app, r.name, r.queue_name, r.status): r.n for r in rows}


async def recount(store: Store) -> dict[tuple[str, str, str, str], int]:
    """The counters as they should be: a GROUP BY over the workflows."""
    w = WorkflowRow
    keys = (
        w.app,
        func.coalesce(w.name, NO_NAME),
        func.coalesce(w.queue_name, NO_QUEUE),
        w.status,
    )
    async with store.sessionmaker() as session:
        result = await session.execute(select(*keys, func.count()).group_by(*keys))
        return {(app, name, queue, status): n for app, name, queue, status, n in result}
