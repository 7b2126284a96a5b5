"""The workflow table's Faust shell: fold captured statuses, project the news into the store.

Per batch of workflow events, each decoded in turn: a ``WorkflowStatus`` that is news for the
``workflows`` table (``capture.workflow_table.is_news``) updates the workflow's mark (or drops it
once the workflow finished) and is queued for the store; a ``WorkflowSteps`` is queued as is; a
``WorkflowDeleted`` drops the mark and is queued. The marks are folded in memory through the batch
and written to the table at its end, only those that changed. A timer writes the queue to the
store in batches (idempotent, latest-wins upserts there too), and keeps it queued when the store is
down.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from broker.faust_app import WorkerApp, writing_as
from capture.workflow_table import WorkflowMark, decode_mark, encode_mark, take
from streams.codec import decode, workflow_key
from streams.exceptions import RecordError
from streams.records import WorkflowDeleted, WorkflowStatus, WorkflowSteps

logger = logging.getLogger(__name__)

BATCH_MAX = 500
BATCH_WITHIN_S = 0.02
"""Events are folded in batches of at most ``BATCH_MAX``, waiting at most ``BATCH_WITHIN_S`` for
one to fill; the table is written once per workflow per batch, and only when its mark changed
(a workflow that starts and finishes within one batch costs no table write)."""

MAX_QUEUED = 200_000
"""Statuses kept for the store while it is unreachable; beyond this the oldest are dropped (the
topic keeps them: ``baton replay`` restores them)."""


class WorkflowProjection(Protocol):
    """Where workflow news goes for the console (the SQL store)."""

    async def project_workflows(
        self,
        statuses: list[WorkflowStatus],
        steps: list[WorkflowSteps],
        deletions: list[WorkflowDeleted],
    ) -> None: ...


class WorkflowAgent:
    """Wires ``capture.workflow_table`` into the Faust worker."""

    def __init__(
        self,
        worker: WorkerApp,
        projection: WorkflowProjection,
        flush_interval_s: float = 0.5,
        batch_size: int = 500,
    ) -> None:
        self._worker = worker
        self._projection = projection
        self._batch_size = batch_size
        self._statuses: list[WorkflowStatus] = []
        self._steps: list[WorkflowSteps] = []
        self._deletions: list[WorkflowDeleted] = []
        app = worker.app
        app.agent(worker.workflow_events, name="workflow-table")(self._consume)
        app.timer(interval=flush_interval_s)(self._flush)

    async def _consume(self, stream: Any) -> None:
        async for events in stream.take_events(BATCH_MAX, BATCH_WITHIN_S):
            marks = _BatchMarks(self._worker.workflows)
            for event in events:
                try:
                    record = decode(event.value)
                except RecordError as exc:
                    logger.warning("skipping undecodable workflow event: %s", exc)
                    continue
                match record:
                    case WorkflowStatus():
                        self._on_status(record, marks, event)
                    case WorkflowSteps():
                        self._steps.append(record)
                    case WorkflowDeleted():
                        marks.set(workflow_key(record.app, record.workflow_id), None, event)
                        self._deletions.append(record)
                    case _:
                        logger.warning("unexpected %s record on the workflow topic", record.type)
            marks.write(stream)

    def _on_status(self, record: WorkflowStatus, marks: _BatchMarks, event: Any) -> None:
        key = workflow_key(record.app, record.workflow_id)
        news, kept = take(marks.get(key), record)
        if not news:
            return
        # Finished (``kept`` is None): the store keeps its history, and the table only live
        # workflows, so the worker's memory follows the active workflows, not all that ever ran.
        # A repeat of a finished status is then news again: the store's latest-wins upsert
        # absorbs it.
        marks.set(key, kept, event)
        self._statuses.append(record)
        if len(self._statuses) > MAX_QUEUED:
            dropped = len(self._statuses) - MAX_QUEUED
            del self._statuses[:dropped]
            logger.error("the store is behind: dropped %d queued workflow statuses", dropped)

    async def _flush(self) -> None:
        while self._statuses or self._steps or self._deletions:
            statuses = self._statuses[: self._batch_size]
            steps = self._steps[: self._batch_size]
            # Deletions wait for the statuses queued before them (they are applied last).
            deletions = list(self._deletions) if len(statuses) == len(self._statuses) else []
            try:
                await self._projection.project_workflows(statuses, steps, deletions)
            except Exception:
                logger.exception(
                    "projecting %d workflow statuses into the store failed; will retry",
                    len(statuses),
                )
                return
            del self._statuses[: len(statuses)]
            del self._steps[: len(steps)]
            del self._deletions[: len(deletions)]


class _BatchMarks:
    """The marks of one batch's workflows: read through from the table once, folded in memory,
    written back at the batch's end where they changed (``write``)."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self._before: dict[bytes, WorkflowMark | None] = {}
        self._now: dict[bytes, tuple[WorkflowMark | None, Any]] = {}
        self._stored: set[bytes] = set()
        """Keys the table held a value for (a malformed one reads as no mark)."""

    def get(self, key: bytes) -> WorkflowMark | None:
        folded = self._now.get(key)
        if folded is not None:
            return folded[0]
        if key not in self._before:
            raw = self._table.get(key)
            self._before[key] = decode_mark(raw)
            if raw is not None:
                self._stored.add(key)
        return self._before[key]

    def set(self, key: bytes, mark: WorkflowMark | None, event: Any) -> None:
        """The workflow's mark after ``event`` (``None``: none kept)."""
        self.get(key)  # remember what the table held before the batch
        self._now[key] = (mark, event)

    def write(self, stream: Any) -> None:
        """Write the changed marks, each in the context of its workflow's latest event (Faust
        writes the changelog to the current event's partition; a workflow's events share one)."""
        with writing_as(stream) as current:
            for key, (mark, event) in self._now.items():
                if mark is None and key not in self._stored:
                    continue
                if mark is not None and mark == self._before[key]:
                    continue
                current(event)
                if mark is None:
                    del self._table[key]
                else:
                    self._table[key] = encode_mark(mark)
