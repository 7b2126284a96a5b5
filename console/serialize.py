"""Store rows as JSON-ready dicts: the one shape the HTTP API returns and the CLI tables print.

Timestamps become ISO 8601 UTC strings (``2024-05-01T12:00:00.000Z``). Pure: no HTTP here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypedDict

from store.models import ExecutorRow, RecoveryRow
from store.projection import AppSummary


class ExecutorJson(TypedDict):
    executor_id: str
    application_version: str
    hostname: str | None
    language: str | None
    dbos_version: str | None
    metadata: dict[str, Any] | None
    state: str
    gateway: str
    connected_at: str
    last_seen: str
    disconnected_at: str | None
    close_code: int | None
    close_reason: str | None


class RecoveryJson(TypedDict):
    dead_executor_id: str
    application_version: str
    state: str
    attempt: int
    target: str | None
    reason: str
    declared_at: str
    updated_at: str
    succeeded_at: str | None


class AppJson(TypedDict):
    app: str
    executors: dict[str, int]
    """Executor count per state."""


def iso_utc(moment: datetime) -> str:
    """A timezone-aware datetime as ISO 8601 in UTC, to the millisecond, with a ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def opt_iso_utc(moment: datetime | None) -> str | None:
    """``iso_utc``, passing None through."""
    return None if moment is None else iso_utc(moment)


def executor_json(row: ExecutorRow) -> ExecutorJson:
    """One executor row for the API or a CLI table."""
    return ExecutorJson(
        executor_id=row.executor_id,
        application_version=row.application_version,
        hostname=row.hostname,
        language=row.language,
        dbos_version=row.dbos_version,
        metadata=row.executor_metadata,
        state=row.state,
        gateway=row.gateway,
        connected_at=iso_utc(row.connected_at),
        last_seen=iso_utc(row.last_seen),
        disconnected_at=opt_iso_utc(row.disconnected_at),
        close_code=row.close_code,
        close_reason=row.close_reason,
    )


def recovery_json(row: RecoveryRow) -> RecoveryJson:
    """One recovery row for the API or a CLI table."""
    return RecoveryJson(
        dead_executor_id=row.dead_executor_id,
        application_version=row.application_version,
        state=row.state,
        attempt=row.attempt,
        target=row.target,
        reason=row.reason,
        declared_at=iso_utc(row.declared_at),
        updated_at=iso_utc(row.updated_at),
        succeeded_at=opt_iso_utc(row.succeeded_at),
    )


def app_json(summary: AppSummary) -> AppJson:
    """One app with its executor counts by state."""
    return AppJson(app=summary.app, executors=dict(summary.executors_by_state))
