"""DBOS Conductor's metric families (``runtime.metrics.DBOS_CONDUCTOR_FAMILIES``) computed from
the store: per app, workflows started, dequeued and completed in the last completed
clock-aligned minute, workflows enqueued and pending now with the oldest of them, the longest
queue wait and latency of the minute's successes, and the connected executors.

The window is ``[start, start + 60 s)`` where ``start`` is the minute before the one ``now_ms``
is in, as DBOS documents it; a rate is the window's count divided by 60.

Bounded reads, whatever the number of workflows:

- the ``workflow_counts`` rows (a few per app) give the apps and the enqueued and pending counts;
- per app, the workflows created, dequeued and completed in the window come from
  ``ix_workflows_app_created``, ``ix_workflows_app_dequeued`` and ``ix_workflows_app_completed``
  (a range of one minute each);
- per app, the oldest ENQUEUED and PENDING workflows come from
  ``ix_workflows_app_status_created`` (the rows of that status only);
- the executors table grouped by app, version and state.

``samples`` turns the rows into samples (pure); ``read_conductor_metrics`` runs the reads.

Must not import Faust, Kafka, the gateway or the console.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from recovery.state import ExecutorState
from runtime.metrics import (
    DBOS_CANCELLED_RATE,
    DBOS_DEQUEUED_RATE,
    DBOS_ENQUEUED_COUNT,
    DBOS_EXECUTOR_COUNT,
    DBOS_FAILED_RATE,
    DBOS_MAX_QUEUE_WAIT,
    DBOS_MAX_TOTAL_LATENCY,
    DBOS_OLDEST_ENQUEUED,
    DBOS_OLDEST_PENDING,
    DBOS_PENDING_COUNT,
    DBOS_STARTED_RATE,
    DBOS_SUCCESS_RATE,
    Samples,
)
from store.app_metrics import ExecutorCount
from store.models import ExecutorRow, WorkflowCountRow, WorkflowRow
from streams.records import WorkflowState

WINDOW_MS = 60_000
HEALTHY = "HEALTHY"
"""DBOS's executor status for a connected executor; Baton's other executor states
(disconnected, dead, recovered) are not counted: DBOS documents no status for them."""

_COUNTS: Table = WorkflowCountRow.__table__  # type: ignore[assignment]

_COMPLETED = {
    WorkflowState.SUCCESS.value: DBOS_SUCCESS_RATE.name,
    WorkflowState.ERROR.value: DBOS_FAILED_RATE.name,
    WorkflowState.MAX_RECOVERY_ATTEMPTS_EXCEEDED.value: DBOS_FAILED_RATE.name,
    WorkflowState.CANCELLED.value: DBOS_CANCELLED_RATE.name,
}
"""The rate family of each completed status."""

_OLDEST = {
    WorkflowState.ENQUEUED.value: DBOS_OLDEST_ENQUEUED.name,
    WorkflowState.PENDING.value: DBOS_OLDEST_PENDING.name,
}


def window(now_ms: int) -> tuple[int, int]:
    """``[start, end)`` of the last completed clock-aligned minute before ``now_ms``."""
    end = now_ms - now_ms % WINDOW_MS
    return end - WINDOW_MS, end


@dataclass(frozen=True, slots=True, kw_only=True)
class NamedCount:
    """``workflow_counts`` summed by app, workflow name, queue and status."""

    app: str
    name: str
    queue_name: str
    status: str
    n: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowRow:
    """One workflow of an app that was created, dequeued or completed in the window."""

    app: str
    name: str
    queue_name: str
    status: str
    created_at_ms: int
    dequeued_at_ms: int | None
    completed_at_ms: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Oldest:
    app: str
    name: str
    queue_name: str
    status: str
    created_at_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """The samples of every family and the window's start (the stamp of rates and maxima)."""

    samples: dict[str, Samples] = field(default_factory=dict)
    window_start_s: float | None = None


_RATES = (
    DBOS_STARTED_RATE.name,
    DBOS_DEQUEUED_RATE.name,
    DBOS_SUCCESS_RATE.name,
    DBOS_FAILED_RATE.name,
    DBOS_CANCELLED_RATE.name,
)


class _Families:
    """Samples being gathered, by family name, each merged with its own rule."""

    def __init__(self) -> None:
        self.out: dict[str, dict[tuple[str, ...], float]] = {}

    def add(
        self,
        name: str,
        labels: tuple[str, ...],
        value: float,
        combine: Callable[[float, float], float] = operator.add,
    ) -> None:
        family = self.out.setdefault(name, {})
        old = family.get(labels)
        family[labels] = value if old is None else combine(old, value)


def samples(
    counts: Iterable[NamedCount],
    in_window: Iterable[WindowRow],
    oldest: Iterable[Oldest],
    executors: Iterable[ExecutorCount],
    now_ms: int,
) -> Reading:
    """The samples of every family of ``DBOS_CONDUCTOR_FAMILIES``; a group with no workflow
    in the window has no rate series (as a group with none enqueued has no oldest)."""
    start, end = window(now_ms)
    families = _Families()
    labels: tuple[str, ...]
    for count in counts:
        if count.status == WorkflowState.ENQUEUED.value:
            labels = (count.app, count.name, count.queue_name)
            families.add(DBOS_ENQUEUED_COUNT.name, labels, count.n)
        elif count.status == WorkflowState.PENDING.value:
            families.add(DBOS_PENDING_COUNT.name, (count.app, count.name), count.n)
    for row in in_window:
        _add_window_row(families, row, start, end)
    for old in oldest:
        pending = old.status == WorkflowState.PENDING.value
        labels = (old.app, old.name) if pending else (old.app, old.name, old.queue_name)
        families.add(_OLDEST[old.status], labels, old.created_at_ms / 1000, min)
    for e in executors:
        healthy = e.n if e.state == ExecutorState.CONNECTED.value else 0
        families.add(DBOS_EXECUTOR_COUNT.name, (e.app, HEALTHY, e.version), healthy)
    out = families.out
    for name in _RATES:
        out[name] = {labels: n / (WINDOW_MS / 1000) for labels, n in out.get(name, {}).items()}
    return Reading(samples=dict(out), window_start_s=start / 1000)


def _add_window_row(families: _Families, row: WindowRow, start: int, end: int) -> None:
    """Count ``row`` in the rates (as counts: ``samples`` divides them) and maxima of the
    window ``[start, end)`` it falls in."""
    labels = (row.app, row.name, row.queue_name)
    if start <= row.created_at_ms < end:
        families.add(DBOS_STARTED_RATE.name, labels, 1)
    dequeued = row.dequeued_at_ms
    if row.queue_name and dequeued is not None and start <= dequeued < end:
        families.add(DBOS_DEQUEUED_RATE.name, labels, 1)
    done = row.completed_at_ms
    if done is None or not start <= done < end or row.status not in _COMPLETED:
        return
    families.add(_COMPLETED[row.status], labels, 1)
    if row.status != WorkflowState.SUCCESS.value:
        return
    families.add(DBOS_MAX_TOTAL_LATENCY.name, labels, max(0, done - row.created_at_ms) / 1000, max)
    if dequeued is not None:
        wait_s = max(0, dequeued - row.created_at_ms) / 1000
        families.add(DBOS_MAX_QUEUE_WAIT.name, labels, wait_s, max)


def _label(text: str | None) -> str:
    return text or ""


async def read_conductor_metrics(session: AsyncSession, now_ms: int) -> Reading:
    """Run the reads in ``session`` and return ``samples`` of them."""
    start, end = window(now_ms)
    count_rows = await session.execute(
        select(
            _COUNTS.c.app, _COUNTS.c.name, _COUNTS.c.queue_name, _COUNTS.c.status, _COUNTS.c.n
        ).where(_COUNTS.c.n > 0)
    )
    counts = [
        NamedCount(app=a, name=n, queue_name=q, status=s, n=int(c)) for a, n, q, s, c in count_rows
    ]
    apps = sorted({c.app for c in counts})
    in_window: list[WindowRow] = []
    oldest: list[Oldest] = []
    for app in apps:
        in_window.extend(await _in_window(session, app, start, end))
        oldest.extend(await _oldest(session, app))
    executor_rows = await session.execute(
        select(
            ExecutorRow.app, ExecutorRow.application_version, ExecutorRow.state, func.count()
        ).group_by(ExecutorRow.app, ExecutorRow.application_version, ExecutorRow.state)
    )
    executors = [ExecutorCount(app=a, version=v, state=s, n=n) for a, v, s, n in executor_rows]
    return samples(counts, in_window, oldest, executors, now_ms)


async def _in_window(session: AsyncSession, app: str, start: int, end: int) -> list[WindowRow]:
    """The app's workflows created, dequeued or completed in ``[start, end)``: three index
    ranges, a workflow in several of them read once."""
    columns = (WorkflowRow.created_at_ms, WorkflowRow.dequeued_at_ms, WorkflowRow.completed_at_ms)
    found: dict[str, WindowRow] = {}
    for column in columns:
        where: Sequence[ColumnElement[bool]] = (
            WorkflowRow.app == app,
            column >= start,
            column < end,
        )
        rows = await session.execute(
            select(
                WorkflowRow.workflow_id,
                WorkflowRow.name,
                WorkflowRow.queue_name,
                WorkflowRow.status,
                *columns,
            ).where(*where)
        )
        for workflow_id, name, queue, status, created, dequeued, completed in rows:
            found[workflow_id] = WindowRow(
                app=app,
                name=_label(name),
                queue_name=_label(queue),
                status=status,
                created_at_ms=created,
                dequeued_at_ms=dequeued,
                completed_at_ms=completed,
            )
    return list(found.values())


async def _oldest(session: AsyncSession, app: str) -> list[Oldest]:
    rows = await session.execute(
        select(
            WorkflowRow.status,
            WorkflowRow.name,
            WorkflowRow.queue_name,
            func.min(WorkflowRow.created_at_ms),
        )
        .where(WorkflowRow.app == app, WorkflowRow.status.in_(list(_OLDEST)))
        .group_by(WorkflowRow.status, WorkflowRow.name, WorkflowRow.queue_name)
    )
    return [
        Oldest(app=app, name=_label(n), queue_name=_label(q), status=s, created_at_ms=int(t))
        for s, n, q, t in rows
    ]
