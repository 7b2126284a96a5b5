"""The per-app metrics computed from the store (``runtime.metrics.APP_FAMILIES``): workflows by
outcome, enqueued and pending, the oldest of those, executors by state and version.

Three cheap reads, whatever the number of workflows: the ``workflow_counts`` rows (a few per
app), the oldest ENQUEUED and PENDING workflow of each app (``ix_workflows_app_status_created``
has them first), and the executors table grouped by app, version and state. ``samples`` turns
their rows into samples (pure); ``read_app_metrics`` runs them in the caller's session.

Must not import Faust, Kafka, the gateway or the console.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.metrics import (
    APP_EXECUTORS,
    APP_OLDEST_ENQUEUED_AGE,
    APP_OLDEST_PENDING_AGE,
    APP_WORKFLOWS_CANCELLED,
    APP_WORKFLOWS_ENQUEUED,
    APP_WORKFLOWS_FAILED,
    APP_WORKFLOWS_PENDING,
    APP_WORKFLOWS_STARTED,
    APP_WORKFLOWS_SUCCEEDED,
    Samples,
)
from store.models import ExecutorRow, WorkflowCountRow, WorkflowRow
from streams.records import WorkflowState

_COUNTS: Table = WorkflowCountRow.__table__  # type: ignore[assignment]

_OUTCOMES = {
    APP_WORKFLOWS_SUCCEEDED.name: (WorkflowState.SUCCESS,),
    APP_WORKFLOWS_FAILED.name: (WorkflowState.ERROR, WorkflowState.MAX_RECOVERY_ATTEMPTS_EXCEEDED),
    APP_WORKFLOWS_CANCELLED.name: (WorkflowState.CANCELLED,),
    APP_WORKFLOWS_ENQUEUED.name: (WorkflowState.ENQUEUED,),
    APP_WORKFLOWS_PENDING.name: (WorkflowState.PENDING,),
}
"""Families that count the workflows of some statuses."""

_OLDEST = {
    WorkflowState.ENQUEUED.value: APP_OLDEST_ENQUEUED_AGE.name,
    WorkflowState.PENDING.value: APP_OLDEST_PENDING_AGE.name,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusCount:
    app: str
    status: str
    n: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Oldest:
    app: str
    status: str
    created_at_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutorCount:
    app: str
    version: str
    state: str
    n: int


def samples(
    counts: Iterable[StatusCount],
    oldest: Iterable[Oldest],
    executors: Iterable[ExecutorCount],
    now_ms: int,
) -> dict[str, Samples]:
    """The samples of every family in ``APP_FAMILIES``; an app with workflows gets every
    workflow family (0 where it has none of a status)."""
    counts = list(counts)
    apps = sorted({c.app for c in counts})
    out: dict[str, dict[tuple[str, ...], float]] = {
        name: {(app,): 0.0 for app in apps}
        for name in (APP_WORKFLOWS_STARTED.name, *_OUTCOMES, *_OLDEST.values())
    }
    for count in counts:
        out[APP_WORKFLOWS_STARTED.name][(count.app,)] += count.n
        for name, statuses in _OUTCOMES.items():
            if count.status in statuses:
                out[name][(count.app,)] += count.n
    for row in oldest:
        out[_OLDEST[row.status]][(row.app,)] = max(0, now_ms - row.created_at_ms) / 1000
    out[APP_EXECUTORS.name] = {(e.app, e.version, e.state): float(e.n) for e in executors}
    return dict(out)


async def read_app_metrics(session: AsyncSession, now_ms: int) -> dict[str, Samples]:
    """Run the three reads in ``session`` and return ``samples`` of them."""
    total = func.sum(_COUNTS.c.n)
    count_rows = await session.execute(
        select(_COUNTS.c.app, _COUNTS.c.status, total).group_by(_COUNTS.c.app, _COUNTS.c.status)
    )
    counts = [StatusCount(app=a, status=s, n=int(n or 0)) for a, s, n in count_rows]
    oldest_rows = await session.execute(
        select(WorkflowRow.app, WorkflowRow.status, func.min(WorkflowRow.created_at_ms))
        .where(WorkflowRow.status.in_(list(_OLDEST)))
        .group_by(WorkflowRow.app, WorkflowRow.status)
    )
    oldest = [Oldest(app=a, status=s, created_at_ms=int(t)) for a, s, t in oldest_rows]
    executor_rows = await session.execute(
        select(
            ExecutorRow.app, ExecutorRow.application_version, ExecutorRow.state, func.count()
        ).group_by(ExecutorRow.app, ExecutorRow.application_version, ExecutorRow.state)
    )
    executors = [ExecutorCount(app=a, version=v, state=s, n=n) for a, v, s, n in executor_rows]
    return samples(counts, oldest, executors, now_ms)
