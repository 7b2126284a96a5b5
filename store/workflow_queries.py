"""The console's reads of the workflow projection: lists, counts, queues, one workflow, its steps.

Every function takes the caller's session, and the caller opens the transaction. The rows are
written by ``store.workflow_projection``; ``store.workflow_rows.status_from_row`` reads one back as
a record.

What the queries cost on a million workflows of one app (the indexes are in ``store.models``):

- ``list_workflows``: one index range scan of ``limit + 1`` rows for each filter served by an
  index (status, name, queue, version, executor, parent, id prefix, time range), in either sort
  order; a cursor page costs the same as the first, an ``offset`` page ``offset`` more rows.
  Several statuses at once are read as one sorted range per status, merged.
- ``count_by_status``: with no filter but the name and the queue, it sums a few
  ``workflow_counts`` rows (one per name, queue and status: ~2 ms); with any other filter (id
  prefix, version, executor, time range) it counts the matches in the filter's index, so the
  cost grows with them: ~8 ms for 10,000, ~75 ms (PostgreSQL) to ~105 ms (SQLite) for 125,000.
- ``queue_summaries`` and ``workflow_totals`` read ``workflow_counts`` only; ``list_queued``
  sorts the active workflows of the queue(s).

Must not import Faust, Kafka, the gateway or the console.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, Table, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import (
    NO_QUEUE,
    StepRow,
    WorkflowCountRow,
    WorkflowRow,
    validate_app_name,
)
from store.paging import MAX_PAGE_ROWS, SortOrder, decode_cursor, encode_cursor, prefix_successor
from store.workflow_rows import chunks, int64, with_ids
from streams.records import ACTIVE_STATES, WorkflowState

_COUNTS: Table = WorkflowCountRow.__table__  # type: ignore[assignment]


# -- the console's view of the store ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowFilter:
    """What the workflows list shows; every field set narrows it (``AND``)."""

    statuses: tuple[str, ...] = ()
    """Any of these statuses; empty: every status."""
    name: str | None = None
    """Exactly this workflow name. In every text field, ``None`` and ``""`` filter nothing."""
    workflow_id_prefix: str | None = None
    """Workflow ids that start with this text (exactly: no wildcards, case-sensitive)."""
    queue_name: str | None = None
    application_version: str | None = None
    executor_id: str | None = None
    created_after_ms: int | None = None
    """Created at or after this time (inclusive)."""
    created_before_ms: int | None = None
    """Created before this time (exclusive)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowPage:
    """One page of the workflows list."""

    rows: list[WorkflowRow]
    next_cursor: str | None
    """Opaque keyset cursor of the next page; ``None`` on the last page."""


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueSummary:
    """How many workflows of one queue wait or run."""

    queue_name: str
    enqueued: int
    pending: int
    delayed: int


# -- queries ---------------------------------------------------------------------------------------


async def list_workflows(
    session: AsyncSession,
    app: str,
    flt: WorkflowFilter,
    *,
    limit: int,
    offset: int = 0,
    cursor: str | None = None,
    sort: SortOrder = SortOrder.NEWEST,
) -> WorkflowPage:
    """One page of an app's workflows that match a filter.

    Args:
        session: the caller's session.
        app: the app name.
        flt: what to show.
        limit: rows per page (clamped to 1..``MAX_PAGE_ROWS``).
        offset: rows to skip; ignored when a cursor is given.
        cursor: the ``next_cursor`` of the previous page, for keyset paging (no row is skipped
            or repeated when workflows arrive between pages).
        sort: newest or oldest first; a cursor only continues the order it was made for.

    Returns:
        The rows and, unless it is the last page, the cursor of the next one.

    Raises:
        ValueError: the app name or the cursor is malformed.
    """
    app_name = validate_app_name(app)
    limit = min(max(limit, 1), MAX_PAGE_ROWS)
    conditions = _conditions(app_name, flt)
    if cursor is not None:
        conditions.append(_after(sort, *decode_cursor(cursor, sort)))
        offset = 0
    offset = max(offset, 0)
    rows = await _sorted_rows(session, app_name, conditions, flt.statuses, sort, limit + 1, offset)
    if len(rows) <= limit:
        return WorkflowPage(rows=rows, next_cursor=None)
    last = rows[limit - 1]
    return WorkflowPage(
        rows=rows[:limit], next_cursor=encode_cursor(sort, last.created_at_ms, last.workflow_id)
    )


async def _sorted_rows(
    session: AsyncSession,
    app: str,
    conditions: list[ColumnElement[bool]],
    statuses: tuple[str, ...],
    sort: SortOrder,
    limit: int,
    offset: int,
) -> list[WorkflowRow]:
    statuses = tuple(sorted(set(statuses)))
    if len(statuses) <= 1:
        if statuses:
            conditions = [*conditions, WorkflowRow.status == statuses[0]]
        stmt = select(WorkflowRow).where(*conditions).order_by(*_order(sort, WorkflowRow))
        return list(await session.scalars(stmt.limit(limit).offset(offset)))
    # ``status IN (...)`` would make the database sort every match, or walk the whole app in
    # time order: take the head of each status's range, sorted in its index (the sort keys
    # alone, which that index covers), merge them, then read the page's rows by primary key.
    w = WorkflowRow
    legs = [
        select(w.created_at_ms, w.workflow_id)
        .where(*conditions, w.status == status)
        .order_by(*_order(sort, w))
        .limit(limit + offset)
        .subquery()
        for status in statuses
    ]
    merged = union_all(*(select(leg) for leg in legs)).subquery()
    page = select(merged.c.workflow_id).order_by(*_order(sort, merged.c))
    ids = list(await session.scalars(page.limit(limit).offset(offset)))
    if not ids:
        return []
    found = await session.scalars(with_ids(session, select(w).where(w.app == app), ids))
    rows = {row.workflow_id: row for row in found}
    return [rows[workflow_id] for workflow_id in ids if workflow_id in rows]


async def select_workflows(
    session: AsyncSession, app: str, flt: WorkflowFilter, *, limit: int
) -> list[tuple[str, str | None]]:
    """The ids and application versions of the workflows that match a filter, oldest first, at
    most ``limit`` (a bulk action's selection).

    Raises:
        ValueError: the app name is malformed.
    """
    app_name = validate_app_name(app)
    w = WorkflowRow
    conditions = _conditions(app_name, flt)
    if flt.statuses:
        conditions.append(w.status.in_(flt.statuses))
    rows = await session.execute(
        select(w.workflow_id, w.application_version)
        .where(*conditions)
        .order_by(w.created_at_ms, w.workflow_id)
        .limit(limit)
    )
    return [(workflow_id, version) for workflow_id, version in rows]


async def versions_of(
    session: AsyncSession, app: str, workflow_ids: Sequence[str]
) -> dict[str, str | None]:
    """The application versions of the given workflows the store knows (unknown ids are absent)."""
    app_name = validate_app_name(app)
    found: dict[str, str | None] = {}
    for chunk in chunks(list(workflow_ids)):
        rows = await session.execute(
            select(WorkflowRow.workflow_id, WorkflowRow.application_version).where(
                WorkflowRow.app == app_name, WorkflowRow.workflow_id.in_(chunk)
            )
        )
        found.update({workflow_id: version for workflow_id, version in rows})
    return found


def _without_blanks(flt: WorkflowFilter) -> WorkflowFilter:
    # An empty text field (e.g. an empty form input) filters nothing, as if it were not set.
    return replace(
        flt,
        name=flt.name or None,
        workflow_id_prefix=flt.workflow_id_prefix or None,
        queue_name=flt.queue_name or None,
        application_version=flt.application_version or None,
        executor_id=flt.executor_id or None,
    )


def _conditions(app: str, flt: WorkflowFilter) -> list[ColumnElement[bool]]:
    """The filter's conditions, but for ``statuses``; an empty text field filters nothing."""
    flt = _without_blanks(flt)
    w = WorkflowRow
    conditions: list[ColumnElement[bool]] = [w.app == app]
    for column, value in (
        (w.name, flt.name),
        (w.queue_name, flt.queue_name),
        (w.application_version, flt.application_version),
        (w.executor_id, flt.executor_id),
    ):
        if value is not None:
            conditions.append(column == value)
    if flt.workflow_id_prefix is not None:
        # A range on the primary key instead of LIKE: no wildcard to escape, and an index seek.
        conditions.append(w.workflow_id >= flt.workflow_id_prefix)
        upper = prefix_successor(flt.workflow_id_prefix)
        if upper is not None:
            conditions.append(w.workflow_id < upper)
    if flt.created_after_ms is not None:
        conditions.append(w.created_at_ms >= int64(flt.created_after_ms))
    if flt.created_before_ms is not None:
        conditions.append(w.created_at_ms < int64(flt.created_before_ms))
    return conditions


def _order(sort: SortOrder, w: Any) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    # The id breaks ties in the same direction, so one index scan (forwards or backwards) serves.
    if sort is SortOrder.NEWEST:
        return (w.created_at_ms.desc(), w.workflow_id.desc())
    return (w.created_at_ms.asc(), w.workflow_id.asc())


def _after(sort: SortOrder, created_at_ms: int, workflow_id: str) -> ColumnElement[bool]:
    # "<= c AND (< c OR id < w)" rather than a row-value or OR-only form: the first conjunct
    # bounds the index range on both databases; the second drops the cursor's own ties.
    w = WorkflowRow
    if sort is SortOrder.NEWEST:
        return (w.created_at_ms <= created_at_ms) & (
            (w.created_at_ms < created_at_ms) | (w.workflow_id < workflow_id)
        )
    return (w.created_at_ms >= created_at_ms) & (
        (w.created_at_ms > created_at_ms) | (w.workflow_id > workflow_id)
    )


async def count_by_status(session: AsyncSession, app: str, flt: WorkflowFilter) -> dict[str, int]:
    """How many of an app's workflows match the filter, per status, ignoring ``flt.statuses``
    (the status tabs show every status). Statuses with none are absent.

    With no filter but the name and the queue, the counts come from ``workflow_counts`` (a few
    rows); any other filter counts the matching rows.

    Raises:
        ValueError: the app name is invalid.
    """
    app_name = validate_app_name(app)
    flt = _without_blanks(flt)
    if flt == WorkflowFilter(statuses=flt.statuses, name=flt.name, queue_name=flt.queue_name):
        c = _COUNTS.c
        total = func.sum(c.n)
        stmt = select(c.status, total).where(c.app == app_name)
        if flt.name is not None:
            stmt = stmt.where(c.name == flt.name)
        if flt.queue_name is not None:
            stmt = stmt.where(c.queue_name == flt.queue_name)
        stmt = stmt.group_by(c.status).having(total > 0)
    else:
        # Grouping by the bare column lets SQLite walk the whole app in the status index (to
        # skip sorting a few groups); an expression makes it read the filter's index instead.
        status = WorkflowRow.status.concat("")
        stmt = select(status, func.count()).where(*_conditions(app_name, flt)).group_by(status)
    result = await session.execute(stmt)
    return {status: int(n) for status, n in sorted(result)}


async def get_workflow(session: AsyncSession, app: str, workflow_id: str) -> WorkflowRow | None:
    """One workflow, or ``None`` if the store has not seen it.

    Raises:
        ValueError: the app name is invalid.
    """
    app_name = validate_app_name(app)
    return await session.scalar(
        select(WorkflowRow).where(
            WorkflowRow.app == app_name, WorkflowRow.workflow_id == workflow_id
        )
    )


async def list_children(
    session: AsyncSession, app: str, workflow_id: str, *, limit: int = 100
) -> list[WorkflowRow]:
    """The workflows a workflow started (``parent_workflow_id``), oldest first.

    Raises:
        ValueError: the app name is invalid.
    """
    app_name = validate_app_name(app)
    stmt = (
        select(WorkflowRow)
        .where(WorkflowRow.app == app_name, WorkflowRow.parent_workflow_id == workflow_id)
        .order_by(*_order(SortOrder.OLDEST, WorkflowRow))
        .limit(min(max(limit, 1), MAX_PAGE_ROWS))
    )
    return list(await session.scalars(stmt))


async def list_steps(session: AsyncSession, app: str, workflow_id: str) -> list[StepRow]:
    """A workflow's stored steps, by function id.

    Raises:
        ValueError: the app name is invalid.
    """
    app_name = validate_app_name(app)
    stmt = (
        select(StepRow)
        .where(StepRow.app == app_name, StepRow.workflow_id == workflow_id)
        .order_by(StepRow.function_id)
    )
    return list(await session.scalars(stmt))


async def queue_summaries(session: AsyncSession, app: str) -> list[QueueSummary]:
    """Each queue of an app with workflows enqueued, pending or delayed on it, by queue name.

    Raises:
        ValueError: the app name is invalid.
    """
    app_name = validate_app_name(app)
    c = _COUNTS.c
    total = func.sum(c.n)
    result = await session.execute(
        select(c.queue_name, c.status, total)
        .where(c.app == app_name, c.queue_name != NO_QUEUE, c.status.in_(ACTIVE_STATES))
        .group_by(c.queue_name, c.status)
        .having(total > 0)
    )
    by_queue: dict[str, dict[str, int]] = {}
    for queue, status, n in result:
        by_queue.setdefault(queue, {})[status] = int(n)
    return [
        QueueSummary(
            queue_name=queue,
            enqueued=counts.get(WorkflowState.ENQUEUED, 0),
            pending=counts.get(WorkflowState.PENDING, 0),
            delayed=counts.get(WorkflowState.DELAYED, 0),
        )
        for queue, counts in sorted(by_queue.items())
    ]


async def list_queued(
    session: AsyncSession, app: str, *, queue_name: str | None, limit: int, offset: int
) -> list[WorkflowRow]:
    """The workflows enqueued, pending or delayed on a queue (or on any), oldest first.

    Raises:
        ValueError: the app name is invalid.
    """
    app_name = validate_app_name(app)
    on_queue = (
        WorkflowRow.queue_name.is_not(None)
        if queue_name is None
        else WorkflowRow.queue_name == queue_name
    )
    stmt = (
        select(WorkflowRow)
        .where(WorkflowRow.app == app_name, on_queue, WorkflowRow.status.in_(ACTIVE_STATES))
        .order_by(*_order(SortOrder.OLDEST, WorkflowRow))
        .limit(min(max(limit, 1), MAX_PAGE_ROWS))
        .offset(max(offset, 0))
    )
    return list(await session.scalars(stmt))


async def workflow_totals(session: AsyncSession) -> dict[str, int]:
    """How many workflows the store holds per app (apps with none are absent), by app."""
    total = func.sum(_COUNTS.c.n)
    result = await session.execute(
        select(_COUNTS.c.app, total).group_by(_COUNTS.c.app).having(total > 0)
    )
    return {app: int(n) for app, n in sorted(result)}
