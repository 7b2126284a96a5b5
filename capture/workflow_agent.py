"""The workflow table's Faust shell: fold captured statuses, project the news into the store.

Per workflow event: decode; a ``WorkflowStatus`` that is news for the ``workflows`` table
(``capture.workflow_table.is_news``) updates the table's mark (or drops it once the workflow
finished) and is queued for the store; a ``WorkflowSteps`` is queued as is; a ``WorkflowDeleted``
drops the mark and is queued. A timer writes the queue to the store in batches (idempotent,
latest-wins upserts there too), and keeps it queued when the store is down.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from broker.faust_app import WorkerApp
from capture.workflow_table import decode_mark, encode_mark, take
from streams.codec import decode, workflow_key
from streams.exceptions import RecordError
from streams.records import WorkflowDeleted, WorkflowStatus, WorkflowSteps

logger = logging.getLogger(__name__)

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
        async for value in stream:
            try:
                record = decode(value)
            except RecordError as exc:
                logger.warning("skipping undecodable workflow event: %s", exc)
                continue
            match record:
                case WorkflowStatus():
                    self._on_status(record)
                case WorkflowSteps():
                    self._steps.append(record)
                case WorkflowDeleted():
                    self._worker.workflows.pop(workflow_key(record.app, record.workflow_id), None)
                    self._deletions.append(record)
                case _:
                    logger.warning("unexpected %s record on the workflow topic", record.type)

    def _on_status(self, record: WorkflowStatus) -> None:
        key = workflow_key(record.app, record.workflow_id)
        mark = decode_mark(self._worker.workflows.get(key))
        news, kept = take(mark, record)
        if not news:
            return
        if kept is not None:
            self._worker.workflows[key] = encode_mark(kept)
        elif mark is not None:
            # Finished: the store keeps its history, and the table only live workflows, so the
            # worker's memory follows the active workflows, not all that ever ran. A repeat of a
            # finished status is then news again: the store's latest-wins upsert absorbs it.
            del self._worker.workflows[key]
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
