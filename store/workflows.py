"""Workflow observability in SQL: the projection of workflow statuses and steps, and its queries.

The worker calls ``upsert_workflows`` and ``replace_steps`` with batches from the workflow events
topic; both are idempotent, because delivery is at-least-once and a worker that takes over a
partition replays. The console calls the query functions; every one takes the caller's session,
and the caller opens the transaction.

Latest wins, whatever the arrival order: a row holds the fields of the record with the greatest
``(updated_at_ms or 0, observed_at_ms)``, the input of the greatest record that carried an input
(``has_input``), and the output and error of the greatest record that carried them
(``has_output``). Ties go to the record applied last.

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

import base64
import binascii
import logging
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any, TypeVar, TypeVarTuple

import orjson
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Select,
    String,
    Table,
    delete,
    false,
    func,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import (
    APP_NAME_MAX_CHARS,
    LABEL_MAX_CHARS,
    NAME_MAX_CHARS,
    NO_NAME,
    NO_QUEUE,
    STATUS_MAX_CHARS,
    WORKFLOW_ID_MAX_CHARS,
    StepRow,
    WorkflowCountRow,
    WorkflowRow,
    validate_app_name,
)
from store.projection import upsert_for
from streams.records import (
    ACTIVE_STATES,
    StepInfo,
    WorkflowDeleted,
    WorkflowState,
    WorkflowStatus,
    WorkflowSteps,
)

logger = logging.getLogger(__name__)

MAX_PAGE_ROWS = 1_000
"""``limit`` is clamped to 1..this many rows."""

_WORKFLOWS: Table = WorkflowRow.__table__  # type: ignore[assignment]
_STEPS: Table = StepRow.__table__  # type: ignore[assignment]
_COUNTS: Table = WorkflowCountRow.__table__  # type: ignore[assignment]

_KEY_COLUMNS = ("app", "workflow_id")
_INPUT_COLUMNS = ("input", "input_updated_at_ms", "input_observed_at_ms")
_OUTPUT_COLUMNS = ("output", "error", "output_updated_at_ms", "output_observed_at_ms")
_CHUNK_ROWS = 500
"""Rows per statement: keeps ``IN`` lists and bound parameters far below both databases' limits."""
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_INT32_MAX = 2**31 - 1
_LOCK_CLASS = 0x62746E77  # "btnw": PostgreSQL advisory lock class of the workflow projection

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")
_RECORD_FIELDS = tuple(f.name for f in fields(WorkflowStatus))

Version = tuple[int, int]
"""``(updated_at_ms or 0, observed_at_ms)``: the order of a workflow's records."""


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


class SortOrder(StrEnum):
    """The order of the workflows list: by creation time, then by workflow id the same way."""

    NEWEST = "created_desc"
    OLDEST = "created_asc"


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


# -- pure: records to rows, and the latest-wins merge ----------------------------------------------


def workflow_values(record: WorkflowStatus) -> dict[str, Any] | None:
    """The row values of one record; ``None`` when its app or workflow id is too long to store.

    Executor-supplied labels are cut to their column's length and integers clamped to 64 bits:
    one absurd value must not fail the worker's whole batch.
    """
    if len(record.app) > APP_NAME_MAX_CHARS or len(record.workflow_id) > WORKFLOW_ID_MAX_CHARS:
        return None
    version = _record_version(record)
    return {
        "app": record.app,
        "workflow_id": record.workflow_id,
        "status": _cut(record.status, STATUS_MAX_CHARS) or "",
        "name": _cut(record.name, NAME_MAX_CHARS),
        "class_name": _cut(record.class_name, NAME_MAX_CHARS),
        "config_name": _cut(record.config_name, NAME_MAX_CHARS),
        "authenticated_user": _cut(record.authenticated_user, LABEL_MAX_CHARS),
        "assumed_role": _cut(record.assumed_role, LABEL_MAX_CHARS),
        "authenticated_roles": record.authenticated_roles,
        "input": record.input if record.has_input else None,
        "output": record.output if record.has_output else None,
        "error": record.error if record.has_output else None,
        "created_at_ms": _int64(record.created_at_ms) or 0,
        "updated_at_ms": _int64(record.updated_at_ms),
        "completed_at_ms": _int64(record.completed_at_ms),
        "dequeued_at_ms": _int64(record.dequeued_at_ms),
        "queue_name": _cut(record.queue_name, LABEL_MAX_CHARS),
        "queue_partition_key": _cut(record.queue_partition_key, LABEL_MAX_CHARS),
        "deduplication_id": _cut(record.deduplication_id, NAME_MAX_CHARS),
        "priority": _int64(record.priority),
        "application_version": _cut(record.application_version, LABEL_MAX_CHARS),
        "executor_id": _cut(record.executor_id, LABEL_MAX_CHARS),
        "timeout_ms": _int64(record.timeout_ms),
        "deadline_epoch_ms": _int64(record.deadline_epoch_ms),
        "delay_until_epoch_ms": _int64(record.delay_until_epoch_ms),
        "forked_from": _cut(record.forked_from, WORKFLOW_ID_MAX_CHARS),
        "was_forked_from": record.was_forked_from,
        "parent_workflow_id": _cut(record.parent_workflow_id, WORKFLOW_ID_MAX_CHARS),
        "attributes": record.attributes,
        "schedule_name": _cut(record.schedule_name, LABEL_MAX_CHARS),
        "observed_at_ms": version[1],
        "input_updated_at_ms": version[0] if record.has_input else None,
        "input_observed_at_ms": version[1] if record.has_input else None,
        "output_updated_at_ms": version[0] if record.has_output else None,
        "output_observed_at_ms": version[1] if record.has_output else None,
    }


def merge_workflow(stored: Mapping[str, Any] | None, incoming: Mapping[str, Any]) -> dict[str, Any]:
    """Merge a record's row values into the stored row: each part is latest-wins on its own.

    The fields come from the newer of the two; the input from the newer of those that carried
    an input; the output and error likewise. On a tie the incoming values win. Commutative and
    associative (but for ties), so any order of the same records gives the same row.

    Args:
        stored: the row's current values, or ``None`` when there is no row yet.
        incoming: ``workflow_values`` of a record, or another merge's result.

    Returns:
        The row's new values.
    """
    if stored is None:
        return dict(incoming)
    newer = incoming if _row_version(incoming) >= _row_version(stored) else stored
    merged = dict(newer)
    for columns, updated, observed in (
        (_INPUT_COLUMNS, "input_updated_at_ms", "input_observed_at_ms"),
        (_OUTPUT_COLUMNS, "output_updated_at_ms", "output_observed_at_ms"),
    ):
        part = incoming
        if _part_version(incoming, updated, observed) < _part_version(stored, updated, observed):
            part = stored
        merged.update((column, part[column]) for column in columns)
    return merged


def status_from_row(row: WorkflowRow) -> WorkflowStatus:
    """The row as a record, e.g. to serve it or to compare it with a fold of the records.

    A ``created_at_ms`` of 0 (not reported) becomes ``None`` again.
    """
    # The row has a column (or, for has_input/has_output, a property) per record field.
    values = {name: getattr(row, name) for name in _RECORD_FIELDS}
    values["created_at_ms"] = row.created_at_ms or None
    return WorkflowStatus(**values)


def _record_version(record: WorkflowStatus) -> Version:
    return (_int64(record.updated_at_ms) or 0, _int64(record.observed_at_ms) or 0)


def _row_version(values: Mapping[str, Any]) -> Version:
    return (values["updated_at_ms"] or 0, values["observed_at_ms"])


def _part_version(values: Mapping[str, Any], updated: str, observed: str) -> Version:
    if values[observed] is None:
        return (_INT64_MIN, _INT64_MIN)  # no record carried this part: anything beats it
    return (values[updated], values[observed])


def _cut(text: str | None, limit: int) -> str | None:
    return text if text is None or len(text) <= limit else text[:limit]


def _int64(value: int | None) -> int | None:
    return None if value is None else min(max(value, _INT64_MIN), _INT64_MAX)


def _count_key(values: Mapping[str, Any]) -> tuple[str, str, str]:
    return (values["name"] or NO_NAME, values["queue_name"] or NO_QUEUE, values["status"])


# -- projection (the worker) -----------------------------------------------------------------------


async def upsert_workflows(session: AsyncSession, records: Sequence[WorkflowStatus]) -> int:
    """Project workflow statuses: insert new workflows, merge newer records into stored ones.

    Per app: one lock (see ``_lock_app``), one ``SELECT`` of the batch's stored rows, one
    upsert of the rows that change, one update of ``workflow_counts`` by status transition; all
    in the caller's transaction, so counts and rows change together.

    Args:
        session: the caller's session; the caller commits.
        records: statuses in any order, possibly repeated, of any apps.

    Returns:
        How many rows were inserted or changed (0 for a replay).
    """
    incoming: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        values = workflow_values(record)
        if values is None:
            logger.warning("workflow id too long to store, skipped: app %.128r", record.app)
            continue
        key = (record.app, record.workflow_id)
        incoming[key] = merge_workflow(incoming.get(key), values)
    changed = 0
    for app in sorted({app for app, _ in incoming}):
        batch = {wid: values for (a, wid), values in incoming.items() if a == app}
        changed += await _upsert_app(session, app, batch)
    return changed


async def _upsert_app(session: AsyncSession, app: str, batch: dict[str, dict[str, Any]]) -> int:
    await _lock_app(session, app)
    stored = await _stored_workflows(session, app, list(batch))
    rows: list[dict[str, Any]] = []
    deltas: Counter[tuple[str, str, str]] = Counter()
    for workflow_id, values in batch.items():
        old = stored.get(workflow_id)
        new = merge_workflow(old, values)
        if new == old:
            continue
        rows.append(new)
        deltas[_count_key(new)] += 1
        if old is not None:
            deltas[_count_key(old)] -= 1
    for chunk in _chunks(rows):
        stmt = upsert_for(session, _WORKFLOWS)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(_KEY_COLUMNS),
            set_={
                c.name: stmt.excluded[c.name] for c in _WORKFLOWS.c if c.name not in _KEY_COLUMNS
            },
        )
        await session.execute(stmt, chunk)
    await _add_counts(session, app, deltas)
    return len(rows)


async def _stored_workflows(
    session: AsyncSession, app: str, workflow_ids: list[str]
) -> dict[str, dict[str, Any]]:
    stored: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(workflow_ids):
        stmt = _with_ids(session, select(_WORKFLOWS).where(_WORKFLOWS.c.app == app), chunk)
        for row in (await session.execute(stmt)).mappings():
            stored[row["workflow_id"]] = dict(row)
    return stored


def _with_ids(session: AsyncSession, stmt: Select[*_Ts], workflow_ids: list[str]) -> Select[*_Ts]:
    """``stmt`` narrowed to these workflow ids (of the app it already selects)."""
    column = _WORKFLOWS.c.workflow_id
    if session.get_bind().dialect.name != "postgresql":
        return stmt.where(column.in_(workflow_ids))
    # A join on the ids, not ``IN``: on a young table whose statistics are not gathered yet,
    # PostgreSQL reads the whole app through another index and filters (0.4 s at 20,000 rows)
    # instead of probing the primary key once per id.
    ids = func.unnest(literal(workflow_ids, ARRAY(String()))).table_valued("workflow_id")
    ids = ids.render_derived()
    return stmt.join(ids, column == ids.c.workflow_id)


async def _add_counts(
    session: AsyncSession, app: str, deltas: Counter[tuple[str, str, str]]
) -> None:
    # Sorted, so two transactions touching the same counters lock them in the same order.
    rows = [
        {"app": app, "name": name, "queue_name": queue, "status": status, "n": n}
        for (name, queue, status), n in sorted(deltas.items())
        if n != 0
    ]
    if not rows:
        return
    stmt = upsert_for(session, _COUNTS)
    stmt = stmt.on_conflict_do_update(
        index_elements=["app", "name", "queue_name", "status"],
        set_={"n": _COUNTS.c.n + stmt.excluded.n},
    )
    await session.execute(stmt, rows)


async def _lock_app(session: AsyncSession, app: str) -> None:
    """Serialise the projection of one app's workflows until the transaction ends.

    The batch's stored rows are read before they are written, and the counters move by the
    difference: a concurrent writer in between (two workers while a partition changes hands)
    would skew them. PostgreSQL: an advisory lock per app. SQLite: an empty ``UPDATE`` makes
    Python's sqlite3 open the transaction and SQLite take its one write lock (waiting up to the
    busy timeout) before the ``SELECT``, which would otherwise run outside any transaction.
    """
    match session.get_bind().dialect.name:
        case "postgresql":
            key = zlib.crc32(app.encode()) - 2**31  # int4, as the two-key lock takes
            await session.execute(select(func.pg_advisory_xact_lock(_LOCK_CLASS, key)))
        case _:
            await session.execute(update(_COUNTS).where(false()).values(n=_COUNTS.c.n))


async def apply_workflow_events(
    session: AsyncSession,
    statuses: Sequence[WorkflowStatus],
    steps: Sequence[WorkflowSteps],
    deletions: Sequence[WorkflowDeleted],
) -> None:
    """Project one batch of the workflow events topic (the worker's and ``baton replay``'s one
    write): statuses, then steps, then deletions, so a workflow deleted in the batch stays gone.
    """
    if statuses:
        await upsert_workflows(session, statuses)
    if steps:
        await replace_steps(session, steps)
    if deletions:
        await delete_workflows(session, deletions)


MAX_DELETED_DEPTH = 16
"""How many generations of children a deletion with children follows."""


async def delete_workflows(session: AsyncSession, records: Sequence[WorkflowDeleted]) -> int:
    """Forget deleted workflows (with their steps; with ``with_children``, their descendants).

    Idempotent: a workflow already gone is skipped. Returns how many workflows were removed.

    Args:
        session: the caller's session; the caller commits.
        records: deletions of any apps, possibly repeated.
    """
    removed = 0
    for app in sorted({record.app for record in records}):
        of_app = [r for r in records if r.app == app]
        await _lock_app(session, app)
        ids: set[str] = {r.workflow_id for r in of_app}
        parents: list[str] = [r.workflow_id for r in of_app if r.with_children]
        for _ in range(MAX_DELETED_DEPTH):
            if not parents:
                break
            children: list[str] = []
            for chunk in _chunks(parents):
                rows = await session.scalars(
                    select(WorkflowRow.workflow_id).where(
                        WorkflowRow.app == app, WorkflowRow.parent_workflow_id.in_(chunk)
                    )
                )
                children.extend(child for child in rows if child not in ids)
            ids.update(children)
            parents = children
        stored = await _stored_workflows(session, app, sorted(ids))
        deltas: Counter[tuple[str, str, str]] = Counter(
            _count_key(values) for values in stored.values()
        )
        for chunk in _chunks(sorted(stored)):
            await session.execute(
                delete(StepRow).where(StepRow.app == app, StepRow.workflow_id.in_(chunk))
            )
            await session.execute(
                delete(WorkflowRow).where(
                    WorkflowRow.app == app, WorkflowRow.workflow_id.in_(chunk)
                )
            )
        await _add_counts(session, app, Counter({key: -n for key, n in deltas.items()}))
        removed += len(stored)
    return removed


async def replace_steps(session: AsyncSession, records: Sequence[WorkflowSteps]) -> None:
    """Store each workflow's latest listing of steps in place of the stored one.

    The newest ``observed_at_ms`` per workflow wins (ties: the later record), against the batch
    and against the stored steps. A workflow whose stored listing is empty has nothing to
    compare with, so any listing replaces it; DBOS never removes steps, so an older listing
    with steps cannot follow a newer empty one.

    Args:
        session: the caller's session; the caller commits.
        records: step listings in any order, possibly repeated, of any apps.
    """
    latest: dict[tuple[str, str], WorkflowSteps] = {}
    for record in records:
        if len(record.app) > APP_NAME_MAX_CHARS or len(record.workflow_id) > WORKFLOW_ID_MAX_CHARS:
            continue
        key = (record.app, record.workflow_id)
        if key not in latest or record.observed_at_ms >= latest[key].observed_at_ms:
            latest[key] = record
    for app in sorted({app for app, _ in latest}):
        batch = {wid: record for (a, wid), record in latest.items() if a == app}
        await _replace_app_steps(session, app, batch)


async def _replace_app_steps(
    session: AsyncSession, app: str, batch: dict[str, WorkflowSteps]
) -> None:
    await _lock_app(session, app)
    stored: dict[str, int] = {}
    for chunk in _chunks(list(batch)):
        result = await session.execute(
            select(_STEPS.c.workflow_id, func.max(_STEPS.c.observed_at_ms))
            .where(_STEPS.c.app == app, _STEPS.c.workflow_id.in_(chunk))
            .group_by(_STEPS.c.workflow_id)
        )
        stored.update((workflow_id, observed) for workflow_id, observed in result)
    fresh = [
        record
        for workflow_id, record in batch.items()
        if workflow_id not in stored or record.observed_at_ms >= stored[workflow_id]
    ]
    for ids in _chunks([str(record.workflow_id) for record in fresh]):
        await session.execute(
            delete(_STEPS).where(_STEPS.c.app == app, _STEPS.c.workflow_id.in_(ids))
        )
    for rows in _chunks([row for record in fresh for row in _step_values(record)]):
        await session.execute(_STEPS.insert(), rows)


def _step_values(record: WorkflowSteps) -> list[dict[str, Any]]:
    steps: dict[int, StepInfo] = {}
    for step in record.steps:
        if 0 <= step.function_id <= _INT32_MAX:
            steps[step.function_id] = step  # a repeated id: the last one (the key is unique)
    return [
        {
            "app": record.app,
            "workflow_id": record.workflow_id,
            "function_id": step.function_id,
            "function_name": _cut(step.function_name, NAME_MAX_CHARS),
            "output": step.output,
            "error": step.error,
            "child_workflow_id": _cut(step.child_workflow_id, WORKFLOW_ID_MAX_CHARS),
            "started_at_ms": _int64(step.started_at_ms),
            "completed_at_ms": _int64(step.completed_at_ms),
            "observed_at_ms": _int64(record.observed_at_ms),
        }
        for step in steps.values()
    ]


def _chunks(items: list[_T]) -> Iterable[list[_T]]:
    for start in range(0, len(items), _CHUNK_ROWS):
        yield items[start : start + _CHUNK_ROWS]


# -- queries (the console) -------------------------------------------------------------------------


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
    found = await session.scalars(_with_ids(session, select(w).where(w.app == app), ids))
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
    for chunk in _chunks(list(workflow_ids)):
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
        conditions.append(w.created_at_ms >= _int64(flt.created_after_ms))
    if flt.created_before_ms is not None:
        conditions.append(w.created_at_ms < _int64(flt.created_before_ms))
    return conditions


def prefix_successor(prefix: str) -> str | None:
    """The least string greater than every string that starts with ``prefix``, in code point
    order (SQLite's ``BINARY``, PostgreSQL's ``C``); ``None`` if there is none.

    Args:
        prefix: a non-empty prefix.
    """
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if code == 0xD800:
            code = 0xE000  # surrogates are not characters: UTF-8 cannot encode them
        if code <= 0x10FFFF:
            return "".join(chars) + chr(code)
    return None


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


def encode_cursor(sort: SortOrder, created_at_ms: int, workflow_id: str) -> str:
    """The opaque cursor of the page after the row ``(created_at_ms, workflow_id)``."""
    raw = orjson.dumps([sort.value, created_at_ms, workflow_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: SortOrder) -> tuple[int, str]:
    """The ``(created_at_ms, workflow_id)`` of a cursor made by ``encode_cursor``.

    Raises:
        ValueError: the cursor is malformed or was made for the other sort order.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = orjson.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("malformed cursor") from exc
    match data:
        case [str(order), int(created_at_ms), str(workflow_id)] if (
            order == sort.value and not isinstance(created_at_ms, bool)
        ):
            # PostgreSQL text holds no NUL: such an id was never stored, so was never a cursor.
            if _INT64_MIN <= created_at_ms <= _INT64_MAX and "\x00" not in workflow_id:
                return created_at_ms, workflow_id
    raise ValueError("malformed cursor, or one made for another sort order")


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
