"""The workflow table's fold: which captured status is news, and the compact mark kept per workflow.

The Faust table ``workflows`` keeps, per ``{app}/{workflow_id}`` of an active workflow, a
``WorkflowMark``: enough to tell whether a newly captured ``WorkflowStatus`` changes anything
(latest wins by DBOS ``updated_at``, then by what the record adds). Only news reaches the SQL
store, so repeated polls of an unchanged active workflow cost no database write. The full record
(inputs, outputs) lives in the store, not here, and so does a finished workflow.

Pure: no Faust, Kafka, asyncio or clock.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from streams.records import ACTIVE_STATES, WorkflowStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowMark:
    """What the table remembers of a workflow's latest status."""

    status: str
    updated_at_ms: int
    executor_id: str | None
    queue_name: str | None
    has_input: bool
    has_output: bool


def mark_of(record: WorkflowStatus, previous: WorkflowMark | None = None) -> WorkflowMark:
    """The mark after ``record`` was taken (payload flags accumulate for the same version)."""
    same = previous is not None and _version(previous) == _record_version(record)
    return WorkflowMark(
        status=record.status,
        updated_at_ms=record.updated_at_ms or 0,
        executor_id=record.executor_id,
        queue_name=record.queue_name,
        has_input=record.has_input or (same and previous is not None and previous.has_input),
        has_output=record.has_output or (same and previous is not None and previous.has_output),
    )


def is_news(mark: WorkflowMark | None, record: WorkflowStatus) -> bool:
    """Whether ``record`` changes what is known: newer, different, or carrying a missing payload.

    An older record (smaller ``updated_at``) is never news, so replays and late duplicates are
    harmless.
    """
    if mark is None:
        return True
    updated = record.updated_at_ms or 0
    if updated != mark.updated_at_ms:
        return updated > mark.updated_at_ms
    if _record_version(record) != _version(mark):
        return True
    return (record.has_input and not mark.has_input) or (record.has_output and not mark.has_output)


def take(mark: WorkflowMark | None, record: WorkflowStatus) -> tuple[bool, WorkflowMark | None]:
    """Fold one status into a workflow's mark.

    Returns:
        Whether the record is news (goes to the store), and the mark to keep: ``None`` once the
        workflow finished (the table keeps active workflows only).
    """
    if not is_news(mark, record):
        return False, mark
    if record.status in ACTIVE_STATES:
        return True, mark_of(record, mark)
    return True, None


def _version(mark: WorkflowMark) -> tuple[object, ...]:
    return (mark.status, mark.updated_at_ms, mark.executor_id, mark.queue_name)


def _record_version(record: WorkflowStatus) -> tuple[object, ...]:
    return (record.status, record.updated_at_ms or 0, record.executor_id, record.queue_name)


def encode_mark(mark: WorkflowMark) -> bytes:
    return orjson.dumps(mark)


def decode_mark(raw: bytes | None) -> WorkflowMark | None:
    """Read a stored mark; a malformed one counts as absent (the next status is then news)."""
    if raw is None:
        return None
    try:
        data = orjson.loads(raw)
        return WorkflowMark(
            status=str(data["status"]),
            updated_at_ms=int(data["updated_at_ms"]),
            executor_id=data.get("executor_id"),
            queue_name=data.get("queue_name"),
            has_input=bool(data["has_input"]),
            has_output=bool(data["has_output"]),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
