"""Bulk jobs: one action over many workflows of an app, its progress and per-workflow outcomes.

The console creates a job with its selection resolved to workflow ids (``create_job``), then
works through ``pending_items`` in position order, records each batch's outcomes
(``record_outcomes``: items and counters change together) and ends the job (``finish_job``).
A job whose runner died stays ``running`` without progress: ``interrupt_stale_jobs`` marks it
``interrupted``. Every function takes a session; the caller owns the transaction.

Costs, for a job of 10,000 items: creation is one insert of the job and bulk inserts of the items
(500 rows a statement); ``pending_items`` reads the next ``limit`` pending items in one index
range; ``record_outcomes`` reads and updates only the batch's items. Must not import Faust,
Kafka, the gateway or the console.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import (
    ACTOR_MAX_CHARS,
    JOB_ID_MAX_CHARS,
    WORKFLOW_ID_MAX_CHARS,
    BulkJobItemRow,
    BulkJobRow,
    validate_app_name,
)
from store.paging import MAX_PAGE_ROWS
from streams.bounds import bound_text

logger = logging.getLogger(__name__)

_JOBS: Table = BulkJobRow.__table__  # type: ignore[assignment]
_ITEMS: Table = BulkJobItemRow.__table__  # type: ignore[assignment]
_CHUNK_ROWS = 500
"""Rows per statement: keeps ``IN`` lists and bound parameters far below both databases' limits."""
_T = TypeVar("_T")

INTERRUPTED_ERROR = "interrupted: the process running the job stopped before it finished"


class JobState(StrEnum):
    """Where a bulk job stands."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    """Every item succeeded."""
    FAILED = "failed"
    """No item succeeded, or the job could not run at all."""
    PARTIAL = "partial"
    """Some items succeeded and some failed."""
    INTERRUPTED = "interrupted"
    """Its runner stopped (a console restart) with items still pending."""


class ItemState(StrEnum):
    """What the action did to one workflow of a job."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class NewBulkJob:
    """A job to create; its workflows are passed to ``create_job`` beside it."""

    job_id: str
    """At most 64 characters; the job's audit target and URL path segment."""
    app: str
    action: str
    """What is done to each workflow: ``cancel``, ``resume``, ``restart``, ``delete``..."""
    actor: str
    params: Mapping[str, Any]
    """The action's options (JSON object)."""
    selection: Mapping[str, Any]
    """How the workflows were chosen: ``{"workflow_ids": [...]}`` or ``{"filter": {...}}``."""
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemOutcome:
    """What the action did to one workflow of a job."""

    workflow_id: str
    succeeded: bool
    error: str | None = None
    new_workflow_id: str | None = None
    """The workflow a restart or fork made."""


def final_state(job: BulkJobRow) -> JobState:
    """The state a job ends in, by its counters: succeeded, failed, or partial."""
    if job.failed == 0 and job.succeeded == job.total:
        return JobState.SUCCEEDED
    if job.succeeded == 0:
        return JobState.FAILED
    return JobState.PARTIAL


async def create_job(
    session: AsyncSession, job: NewBulkJob, workflow_ids: Sequence[str]
) -> BulkJobRow:
    """Create a running job with one pending item per workflow, in the given order.

    Args:
        session: the caller's session; the caller commits.
        job: the job.
        workflow_ids: the workflows to act on; a repeated id is kept once, at its first place.

    Returns:
        The job's row.

    Raises:
        ValueError: the app name is invalid, the job id is empty or longer than 64 characters,
            or a workflow id is longer than 512 characters.
    """
    app = validate_app_name(job.app)
    if not 0 < len(job.job_id) <= JOB_ID_MAX_CHARS:
        raise ValueError(f"a bulk job id has 1 to {JOB_ID_MAX_CHARS} characters")
    ids = list(dict.fromkeys(workflow_ids))
    if any(len(workflow_id) > WORKFLOW_ID_MAX_CHARS for workflow_id in ids):
        raise ValueError(f"a workflow id is longer than {WORKFLOW_ID_MAX_CHARS} characters")
    row = BulkJobRow(
        job_id=job.job_id,
        app=app,
        action=job.action,
        actor=bound_text(job.actor, ACTOR_MAX_CHARS) or "",
        params=dict(job.params),
        selection=dict(job.selection),
        state=JobState.RUNNING.value,
        total=len(ids),
        done=0,
        succeeded=0,
        failed=0,
        created_at=job.created_at,
        updated_at=job.created_at,
        finished_at=None,
        error=None,
    )
    session.add(row)
    await session.flush()  # the job first: the items' foreign key refers to it
    items = [
        {"job_id": job.job_id, "workflow_id": workflow_id, "position": position}
        for position, workflow_id in enumerate(ids)
    ]
    for chunk in _chunks(items):
        await session.execute(
            _ITEMS.insert().values(outcome=ItemState.PENDING.value, error=None), chunk
        )
    logger.info(
        "bulk job %s created: %s of %d workflows of app %s", job.job_id, job.action, len(ids), app
    )
    return row


async def pending_items(session: AsyncSession, job_id: str, limit: int) -> list[str]:
    """The workflow ids of the job's next pending items, in position order."""
    stmt = (
        select(BulkJobItemRow.workflow_id)
        .where(BulkJobItemRow.job_id == job_id, BulkJobItemRow.outcome == ItemState.PENDING)
        .order_by(BulkJobItemRow.position)
        .limit(max(limit, 1))
    )
    return list(await session.scalars(stmt))


async def record_outcomes(
    session: AsyncSession,
    job_id: str,
    outcomes: Sequence[ItemOutcome],
    *,
    now: datetime | None = None,
) -> BulkJobRow:
    """Record what the action did to some items, and move the job's counters to match.

    Idempotent: an item that already has this outcome, error and new workflow is left as it
    is, and counted once. An item that changes outcome (a failed one retried) moves between
    the counters. Of several outcomes of one item in the batch, the last wins.

    Args:
        session: the caller's session; the caller commits (items and counters together).
        job_id: the job.
        outcomes: the batch's outcomes.
        now: when the outcomes were seen (default: the current time); the job's ``updated_at``.

    Returns:
        The job's row, counters updated.

    Raises:
        LookupError: there is no such job.
        ValueError: an outcome is for a workflow that is not in the job.
    """
    now = now or datetime.now(UTC)
    # A write first: it locks the job (PostgreSQL: its row; SQLite: the database) until the
    # caller commits, so two writers of one job cannot both count from the same old outcomes.
    touched = await session.scalar(
        update(_JOBS)
        .where(_JOBS.c.job_id == job_id)
        .values(updated_at=now)
        .returning(_JOBS.c.job_id)
    )
    if touched is None:
        raise LookupError(f"no bulk job {job_id[:JOB_ID_MAX_CHARS]!r}")
    latest = {outcome.workflow_id: _item_values(outcome, now) for outcome in outcomes}
    stored = await _stored_items(session, job_id, list(latest))
    missing = sorted(latest.keys() - stored.keys())
    if missing:
        raise ValueError(
            f"{len(missing)} workflow(s) not in bulk job {job_id!r}, e.g. {missing[0][:200]!r}"
        )
    changed = [values for wid, values in latest.items() if stored[wid] != _item_key(values)]
    for chunk in _chunks(changed):
        await session.execute(_ITEM_UPDATE, [{"b_job_id": job_id, **values} for values in chunk])
    moves = [(stored[values["b_workflow_id"]][0], values["b_outcome"]) for values in changed]
    return await _move_counters(session, job_id, moves)


_ITEM_UPDATE = (
    update(_ITEMS)
    .where(
        _ITEMS.c.job_id == bindparam("b_job_id"),
        _ITEMS.c.workflow_id == bindparam("b_workflow_id"),
    )
    .values(
        outcome=bindparam("b_outcome"),
        error=bindparam("b_error"),
        new_workflow_id=bindparam("b_new_workflow_id"),
        updated_at=bindparam("b_updated_at"),
    )
)
"""One item's outcome (executed once per item, as an executemany)."""

_ItemKey = tuple[str, str | None, str | None]
"""``(outcome, error, new_workflow_id)`` of an item."""


def _item_values(outcome: ItemOutcome, now: datetime) -> dict[str, Any]:
    state = ItemState.SUCCEEDED if outcome.succeeded else ItemState.FAILED
    return {
        "b_workflow_id": outcome.workflow_id,
        "b_outcome": state.value,
        "b_error": bound_text(outcome.error),
        "b_new_workflow_id": bound_text(outcome.new_workflow_id, WORKFLOW_ID_MAX_CHARS),
        "b_updated_at": now,
    }


def _item_key(values: Mapping[str, Any]) -> _ItemKey:
    return (values["b_outcome"], values["b_error"], values["b_new_workflow_id"])


async def _stored_items(
    session: AsyncSession, job_id: str, workflow_ids: list[str]
) -> dict[str, _ItemKey]:
    c = _ITEMS.c
    stored: dict[str, _ItemKey] = {}
    for chunk in _chunks(workflow_ids):
        result = await session.execute(
            select(c.workflow_id, c.outcome, c.error, c.new_workflow_id).where(
                c.job_id == job_id, c.workflow_id.in_(chunk)
            )
        )
        stored.update((wid, (outcome, error, new)) for wid, outcome, error, new in result)
    return stored


async def _move_counters(
    session: AsyncSession, job_id: str, moves: Iterable[tuple[str, str]]
) -> BulkJobRow:
    done = succeeded = failed = 0
    for old, new in moves:
        done += (old == ItemState.PENDING) - (new == ItemState.PENDING)
        succeeded += (new == ItemState.SUCCEEDED) - (old == ItemState.SUCCEEDED)
        failed += (new == ItemState.FAILED) - (old == ItemState.FAILED)
    j = BulkJobRow
    stmt = (
        update(j)
        .where(j.job_id == job_id)
        .values(done=j.done + done, succeeded=j.succeeded + succeeded, failed=j.failed + failed)
        .returning(j)
    )
    row = await session.scalar(stmt, execution_options={"populate_existing": True})
    if row is None:
        raise LookupError(f"no bulk job {job_id[:JOB_ID_MAX_CHARS]!r}")
    return row


async def finish_job(
    session: AsyncSession,
    job_id: str,
    state: JobState,
    error: str | None,
    finished_at: datetime,
) -> bool:
    """End a job: set its final state (see ``final_state``) and, for a failed job, why.

    Args:
        session: the caller's session; the caller commits.
        job_id: the job.
        state: any state but ``running``.
        error: why the job as a whole failed or stopped; ``None`` when it ran to its end.
        finished_at: when it ended; also its ``updated_at``.

    Returns:
        False if there is no such job.

    Raises:
        ValueError: ``state`` is ``running``.
    """
    if state is JobState.RUNNING:
        raise ValueError("a finished job is not running: pass its final state")
    result = await session.execute(
        update(_JOBS)
        .where(_JOBS.c.job_id == job_id)
        .values(
            state=state.value,
            error=bound_text(error),
            finished_at=finished_at,
            updated_at=finished_at,
        )
        .returning(_JOBS.c.job_id)
    )
    if result.scalar_one_or_none() is None:
        return False
    logger.info("bulk job %s finished: %s", job_id, state.value)
    return True


async def get_job(session: AsyncSession, app: str, job_id: str) -> BulkJobRow | None:
    """One job of an app, or ``None`` (also when the job belongs to another app).

    Raises:
        ValueError: the app name is invalid.
    """
    app_name = validate_app_name(app)
    return await session.scalar(
        select(BulkJobRow).where(BulkJobRow.app == app_name, BulkJobRow.job_id == job_id)
    )


async def list_job_items(
    session: AsyncSession, job_id: str, *, limit: int = 100, offset: int = 0
) -> list[BulkJobItemRow]:
    """A page of a job's items, in position order (``limit`` clamped to 1..``MAX_PAGE_ROWS``)."""
    stmt = (
        select(BulkJobItemRow)
        .where(BulkJobItemRow.job_id == job_id)
        .order_by(BulkJobItemRow.position)
        .limit(min(max(limit, 1), MAX_PAGE_ROWS))
        .offset(max(offset, 0))
    )
    return list(await session.scalars(stmt))


async def list_jobs(session: AsyncSession, app: str, limit: int = 50) -> list[BulkJobRow]:
    """An app's most recent jobs, newest first (``limit`` clamped to 1..``MAX_PAGE_ROWS``).

    Raises:
        ValueError: the app name is invalid.
    """
    app_name = validate_app_name(app)
    stmt = (
        select(BulkJobRow)
        .where(BulkJobRow.app == app_name)
        .order_by(BulkJobRow.created_at.desc(), BulkJobRow.job_id.desc())
        .limit(min(max(limit, 1), MAX_PAGE_ROWS))
    )
    return list(await session.scalars(stmt))


async def interrupt_stale_jobs(
    session: AsyncSession, older_than: datetime, *, now: datetime | None = None
) -> int:
    """Mark ``interrupted`` the running jobs that made no progress since ``older_than``.

    A console calls it as it starts (its own jobs from before a restart stopped with it), and
    may call it periodically: a runner records progress at least every batch.

    Args:
        session: the caller's session; the caller commits.
        older_than: a running job last updated before this time is interrupted.
        now: when (default: the current time); the jobs' ``finished_at`` and ``updated_at``.

    Returns:
        How many jobs were interrupted.
    """
    now = now or datetime.now(UTC)
    result = await session.execute(
        update(_JOBS)
        .where(_JOBS.c.state == JobState.RUNNING.value, _JOBS.c.updated_at < older_than)
        .values(
            state=JobState.INTERRUPTED.value,
            error=INTERRUPTED_ERROR,
            finished_at=now,
            updated_at=now,
        )
        .returning(_JOBS.c.job_id)
    )
    interrupted = list(result.scalars())
    if interrupted:
        logger.warning("%d stale bulk job(s) interrupted: %s", len(interrupted), interrupted[:20])
    return len(interrupted)


def _chunks(items: list[_T]) -> Iterable[list[_T]]:
    for start in range(0, len(items), _CHUNK_ROWS):
        yield items[start : start + _CHUNK_ROWS]
