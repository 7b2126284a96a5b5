"""``baton replay``: rebuild the store's projections from the replayable topics.

Reads the workflow events topic and the audit topic from their beginning and writes what they say
into a store (usually an empty one): workflow history and steps through the same idempotent,
latest-wins upserts the worker uses, recovery decisions and operator actions into the audit log.
Replaying into a store the worker already fills changes nothing; replaying into an empty one gives
the same rows.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from broker.log_reader import ReadProgress, read_log
from capture.workflow_table import WorkflowMark, take
from store.audit import record_audit
from store.database import Store
from store.workflow_projection import apply_workflow_events
from streams.codec import workflow_key
from streams.records import (
    AuditRecord,
    OperatorAction,
    RecoveryDecision,
    WorkflowDeleted,
    WorkflowStatus,
    WorkflowSteps,
)
from streams.topics import Topics

logger = logging.getLogger(__name__)


async def replay(
    bootstrap: str, topics: Topics, store: Store, *, out: TextIO = sys.stderr
) -> dict[str, int]:
    """Replay both topics into ``store``; prints progress to ``out``.

    Returns:
        Counts: ``workflow_events``, ``workflows_written``, ``steps_written``, ``audit_records``
        (recovery decisions and operator actions), ``operator_actions`` (of those), ``skipped``
        (records that did not decode).
    """
    counts = {
        "workflow_events": 0,
        "workflows_written": 0,
        "steps_written": 0,
        "audit_records": 0,
        "operator_actions": 0,
    }
    skipped = await _replay_workflows(bootstrap, topics, store, counts, out)
    skipped += await _replay_audit(bootstrap, topics, store, counts, out)
    counts["skipped"] = skipped
    return counts


async def _replay_workflows(
    bootstrap: str, topics: Topics, store: Store, counts: dict[str, int], out: TextIO
) -> int:
    marks: dict[bytes, WorkflowMark] = {}
    progress = ReadProgress()
    async for batch in read_log(bootstrap, topics.workflow_events, progress):
        statuses: list[WorkflowStatus] = []
        steps: list[WorkflowSteps] = []
        deletions: list[WorkflowDeleted] = []
        for record in batch:
            match record:
                case WorkflowStatus():
                    # The worker's own fold, so an empty store ends with the worker's rows.
                    key = workflow_key(record.app, record.workflow_id)
                    news, kept = take(marks.pop(key, None), record)
                    if kept is not None:
                        marks[key] = kept
                    if news:
                        statuses.append(record)
                case WorkflowSteps():
                    steps.append(record)
                case WorkflowDeleted():
                    marks.pop(workflow_key(record.app, record.workflow_id), None)
                    deletions.append(record)
        async with store.sessionmaker.begin() as session:
            await apply_workflow_events(session, statuses, steps, deletions)
        counts["workflow_events"] += len(batch)
        counts["workflows_written"] += len(statuses)
        counts["steps_written"] += len(steps)
        print(f"workflow events: {progress.read}/{progress.total}", file=out, flush=True)
    return progress.skipped


async def _replay_audit(
    bootstrap: str, topics: Topics, store: Store, counts: dict[str, int], out: TextIO
) -> int:
    progress = ReadProgress()
    async for batch in read_log(bootstrap, topics.audit, progress):
        records: list[AuditRecord] = [
            r for r in batch if isinstance(r, RecoveryDecision | OperatorAction)
        ]
        if records:
            async with store.sessionmaker.begin() as session:
                await record_audit(session, records)
        counts["audit_records"] += len(records)
        counts["operator_actions"] += sum(isinstance(r, OperatorAction) for r in records)
        print(f"audit records: {progress.read}/{progress.total}", file=out, flush=True)
    return progress.skipped
