"""The projection of workflow events into SQL: statuses, steps and deletions (the worker's writes).

The worker (and ``baton replay``) calls ``apply_workflow_events`` with batches from the workflow
events topic; ``upsert_workflows``, ``replace_steps`` and ``delete_workflows`` are idempotent,
because delivery is at-least-once and a worker that takes over a partition replays. Every
function takes the caller's session, and the caller commits.

Latest wins, whatever the arrival order: a row holds the fields of the record with the greatest
``(updated_at_ms or 0, observed_at_ms)``, the input of the greatest record that carried an input
(``has_input``), and the output and error of the greatest record that carried them
(``has_output``). Ties go to the record applied last. ``workflow_counts`` (one row per app, name,
queue and status) moves with the rows in the same transaction, so the console can count a
million workflows from a few rows. The console's reads are ``store.workflow_queries``.

Payload privacy (``store.app_settings``): for an app with it on, the projection keeps no input,
output or error of a workflow or a step, whatever the records carry (the gateways should have sent
none: this is the last line). It reads the setting under the app's lock, after any switch that
erased the app's payloads committed.

Must not import Faust, Kafka, the gateway or the console.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.app_settings import payloads_private
from store.models import (
    APP_NAME_MAX_CHARS,
    INT64_MIN,
    NAME_MAX_CHARS,
    NO_NAME,
    NO_QUEUE,
    WORKFLOW_ID_MAX_CHARS,
    StepRow,
    WorkflowCountRow,
    WorkflowRow,
)
from store.projection import upsert_for
from store.workflow_rows import (
    INPUT_COLUMNS,
    OUTPUT_COLUMNS,
    PAYLOAD_COLUMNS,
    chunks,
    cut,
    int64,
    lock_app,
    record_values,
    with_ids,
)
from streams.records import StepInfo, WorkflowDeleted, WorkflowStatus, WorkflowSteps

logger = logging.getLogger(__name__)

_WORKFLOWS: Table = WorkflowRow.__table__  # type: ignore[assignment]
_STEPS: Table = StepRow.__table__  # type: ignore[assignment]
_COUNTS: Table = WorkflowCountRow.__table__  # type: ignore[assignment]

_KEY_COLUMNS = ("app", "workflow_id")
_INT32_MAX = 2**31 - 1

Version = tuple[int, int]
"""``(updated_at_ms or 0, observed_at_ms)``: the order of a workflow's records."""


# -- pure: records to rows, and the latest-wins merge ----------------------------------------------


def workflow_values(record: WorkflowStatus) -> dict[str, Any] | None:
    """The row values of one record; ``None`` when its app or workflow id is too long to store.

    The record's fields fitted to their columns (``store.workflow_rows.record_values``); the
    input only if the record carried it, the output and error likewise; and the version of each
    part, for ``merge_workflow``.
    """
    if len(record.app) > APP_NAME_MAX_CHARS or len(record.workflow_id) > WORKFLOW_ID_MAX_CHARS:
        return None
    updated, observed = _record_version(record)
    return {
        **record_values(record),
        "input": record.input if record.has_input else None,
        "output": record.output if record.has_output else None,
        "error": record.error if record.has_output else None,
        "input_updated_at_ms": updated if record.has_input else None,
        "input_observed_at_ms": observed if record.has_input else None,
        "output_updated_at_ms": updated if record.has_output else None,
        "output_observed_at_ms": observed if record.has_output else None,
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
        (INPUT_COLUMNS, "input_updated_at_ms", "input_observed_at_ms"),
        (OUTPUT_COLUMNS, "output_updated_at_ms", "output_observed_at_ms"),
    ):
        part = incoming
        if _part_version(incoming, updated, observed) < _part_version(stored, updated, observed):
            part = stored
        merged.update((column, part[column]) for column in columns)
    return merged


def _record_version(record: WorkflowStatus) -> Version:
    return (int64(record.updated_at_ms) or 0, int64(record.observed_at_ms) or 0)


def _row_version(values: Mapping[str, Any]) -> Version:
    return (values["updated_at_ms"] or 0, values["observed_at_ms"])


def _part_version(values: Mapping[str, Any], updated: str, observed: str) -> Version:
    if values[observed] is None:
        return (INT64_MIN, INT64_MIN)  # no record carried this part: anything beats it
    return (values[updated], values[observed])


def _count_key(values: Mapping[str, Any]) -> tuple[str, str, str]:
    return (values["name"] or NO_NAME, values["queue_name"] or NO_QUEUE, values["status"])


# -- the worker's writes -------------------------------------------------------------------------


async def upsert_workflows(session: AsyncSession, records: Sequence[WorkflowStatus]) -> int:
    """Project workflow statuses: insert new workflows, merge newer records into stored ones.

    Per app: one lock (``store.workflow_rows.lock_app``), one ``SELECT`` of the batch's stored
    rows, one upsert of the rows that change, one update of ``workflow_counts`` by status
    transition; all in the caller's transaction, so counts and rows change together.

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


def withheld(values: Mapping[str, Any]) -> dict[str, Any]:
    """A workflow's row values without payloads: as if no record had carried any (payload
    privacy), so a merge keeps the stored parts, which privacy keeps empty."""
    return {**values, **dict.fromkeys(PAYLOAD_COLUMNS)}


async def _upsert_app(session: AsyncSession, app: str, batch: dict[str, dict[str, Any]]) -> int:
    await lock_app(session, app)
    if await payloads_private(session, app):
        batch = {workflow_id: withheld(values) for workflow_id, values in batch.items()}
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
    for chunk in chunks(rows):
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
    for chunk in chunks(workflow_ids):
        stmt = with_ids(session, select(_WORKFLOWS).where(_WORKFLOWS.c.app == app), chunk)
        for row in (await session.execute(stmt)).mappings():
            stored[row["workflow_id"]] = dict(row)
    return stored


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
        await lock_app(session, app)
        ids: set[str] = {r.workflow_id for r in of_app}
        parents: list[str] = [r.workflow_id for r in of_app if r.with_children]
        for _ in range(MAX_DELETED_DEPTH):
            if not parents:
                break
            children: list[str] = []
            for chunk in chunks(parents):
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
        for chunk in chunks(sorted(stored)):
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
    await lock_app(session, app)
    private = await payloads_private(session, app)
    stored: dict[str, int] = {}
    for chunk in chunks(list(batch)):
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
    for ids in chunks([str(record.workflow_id) for record in fresh]):
        await session.execute(
            delete(_STEPS).where(_STEPS.c.app == app, _STEPS.c.workflow_id.in_(ids))
        )
    for rows in chunks([row for record in fresh for row in _step_values(record, private)]):
        await session.execute(_STEPS.insert(), rows)


def _step_values(record: WorkflowSteps, private: bool = False) -> list[dict[str, Any]]:
    """The rows of a listing's steps; without outputs and errors under payload privacy."""
    steps: dict[int, StepInfo] = {}
    for step in record.steps:
        if 0 <= step.function_id <= _INT32_MAX:
            steps[step.function_id] = step  # a repeated id: the last one (the key is unique)
    return [
        {
            "app": record.app,
            "workflow_id": record.workflow_id,
            "function_id": step.function_id,
            "function_name": cut(step.function_name, NAME_MAX_CHARS),
            "output": None if private else step.output,
            "error": None if private else step.error,
            "child_workflow_id": cut(step.child_workflow_id, WORKFLOW_ID_MAX_CHARS),
            "started_at_ms": int64(step.started_at_ms),
            "completed_at_ms": int64(step.completed_at_ms),
            "observed_at_ms": int64(record.observed_at_ms),
        }
        for step in steps.values()
    ]
