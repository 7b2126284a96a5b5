"""The store reads the API and the dashboard share: apps with their counts, pages of workflows.

Each function opens one read transaction on the store and returns plain values. Must not import
HTTP or templates: both surfaces render what these return.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from console.detail import hidden_payloads
from management.params import BadParameter, QueuedQuery, WorkflowQuery
from store.app_settings import payloads_private
from store.database import Store
from store.models import ExecutorRow, RecoveryRow
from store.projection import AppSummary, list_apps, list_executors, list_recoveries
from store.workflow_queries import (
    QueueSummary,
    count_by_status,
    list_queued,
    list_workflows,
    queue_summaries,
    workflow_totals,
)
from store.workflow_rows import status_from_row
from streams.ids import AppName
from streams.records import WorkflowStatus

RECOVERIES_LIMIT = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class AppOverview:
    """One app: its executors by state and how many workflows the store holds for it."""

    summary: AppSummary
    workflows: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowListing:
    """One page of workflows with the counts per status under the same filter (status aside)."""

    workflows: tuple[WorkflowStatus, ...]
    counts: dict[str, int] = field(default_factory=dict)
    next_cursor: str | None = None
    payloads_hidden: str | None = None
    """Why the rows' errors are hidden (and null), as ``console.detail.hidden_payloads`` says."""


async def read_apps(store: Store) -> list[AppOverview]:
    """Every app known from executors, keys or workflows, by name."""
    async with store.sessionmaker.begin() as session:
        summaries = {s.app: s for s in await list_apps(session)}
        totals = await workflow_totals(session)
    for app in totals.keys() - summaries.keys():
        summaries[AppName(app)] = AppSummary(app=AppName(app))
    return [
        AppOverview(summary=summaries[app], workflows=totals.get(app, 0))
        for app in sorted(summaries)
    ]


async def read_workflows(
    store: Store, app: AppName, query: WorkflowQuery, *, withheld: bool = False
) -> WorkflowListing:
    """One page of an app's workflows and the status counts (``withheld``: without errors,
    whatever the app's setting).

    Raises:
        BadParameter: the query's cursor is malformed.
    """
    async with store.sessionmaker.begin() as session:
        try:
            page = await list_workflows(
                session,
                app,
                query.flt,
                limit=query.limit,
                offset=query.offset,
                cursor=query.cursor,
                sort=query.sort,
            )
        except ValueError:
            if query.cursor is None:
                raise
            raise BadParameter(
                "cursor", "malformed; pass a previous page's next_cursor unchanged"
            ) from None
        counts = await count_by_status(session, app, query.flt)
        private = await payloads_private(session, app)
    return WorkflowListing(
        workflows=tuple(status_from_row(row) for row in page.rows),
        counts=counts,
        next_cursor=page.next_cursor,
        payloads_hidden=hidden_payloads(private, withheld=withheld),
    )


async def read_queues(store: Store, app: AppName) -> list[QueueSummary]:
    """An app's queues with their enqueued, pending and delayed counts."""
    async with store.sessionmaker.begin() as session:
        return await queue_summaries(session, app)


async def read_queued(store: Store, app: AppName, query: QueuedQuery) -> list[WorkflowStatus]:
    """One page of an app's queued workflows (of one queue, or of all)."""
    async with store.sessionmaker.begin() as session:
        rows = await list_queued(
            session, app, queue_name=query.queue_name, limit=query.limit, offset=query.offset
        )
    return [status_from_row(row) for row in rows]


async def read_executors(store: Store, app: AppName) -> list[ExecutorRow]:
    """An app's executors, by executor id."""
    async with store.sessionmaker.begin() as session:
        return await list_executors(session, app)


async def read_recoveries(store: Store, app: AppName) -> list[RecoveryRow]:
    """An app's most recent recoveries, newest first."""
    async with store.sessionmaker.begin() as session:
        return await list_recoveries(session, app, limit=RECOVERIES_LIMIT)
