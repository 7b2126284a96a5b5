"""Operator actions, bulk jobs and audit entries as JSON-ready dicts (the management API's shapes).

The ``TypedDict``s are also response schemas of the OpenAPI document (``console.api.openapi``).
Pure: no HTTP here.
"""

from __future__ import annotations

from typing import Any, TypedDict

from console.serialize import iso_from_ms, iso_utc, opt_iso_utc
from management.bulk import BulkJobView, BulkPreview
from store.audit import AuditPage
from store.models import AuditRow, BulkJobItemRow, BulkJobRow
from streams.records import OperatorAction


class ActionJson(TypedDict):
    action_id: str
    app: str
    actor: str
    action: str
    target: str
    params: dict[str, Any]
    outcome: str
    result: dict[str, Any] | None
    error: str | None
    executor_id: str | None
    requested_at: str | None
    finished_at: str | None
    replayed: bool


class ActionErrorJson(TypedDict):
    error: str
    action: ActionJson


class BulkPreviewJson(TypedDict):
    dry_run: bool
    matched: int
    sample: list[str]
    too_many: bool


class BulkItemJson(TypedDict):
    workflow_id: str
    outcome: str
    error: str | None
    new_workflow_id: str | None


class BulkJobJson(TypedDict):
    job_id: str
    app: str
    action: str
    actor: str
    params: dict[str, Any]
    selection: dict[str, Any]
    state: str
    total: int
    done: int
    succeeded: int
    failed: int
    created_at: str
    updated_at: str
    finished_at: str | None
    error: str | None
    items: list[BulkItemJson]
    replayed: bool


class AuditEntryJson(TypedDict):
    ts: str
    app: str
    actor: str
    action: str
    target: str
    outcome: str
    detail: str | None
    record: dict[str, Any] | None


class AuditPageJson(TypedDict):
    entries: list[AuditEntryJson]
    next_cursor: str | None


def action_json(record: OperatorAction, *, replayed: bool) -> ActionJson:
    return ActionJson(
        action_id=record.action_id,
        app=record.app,
        actor=record.actor,
        action=record.action,
        target=record.target,
        params=dict(record.params),
        outcome=record.outcome.value,
        result=None if record.result is None else dict(record.result),
        error=record.error,
        executor_id=record.executor_id,
        requested_at=iso_from_ms(record.requested_at_ms),
        finished_at=iso_from_ms(record.finished_at_ms),
        replayed=replayed,
    )


def bulk_preview_json(preview: BulkPreview) -> BulkPreviewJson:
    return BulkPreviewJson(
        dry_run=True, matched=preview.matched, sample=preview.sample, too_many=preview.truncated
    )


def bulk_item_json(row: BulkJobItemRow) -> BulkItemJson:
    return BulkItemJson(
        workflow_id=row.workflow_id,
        outcome=row.outcome,
        error=row.error,
        new_workflow_id=row.new_workflow_id,
    )


def bulk_job_json(
    job: BulkJobRow, items: list[BulkJobItemRow], *, replayed: bool = False
) -> BulkJobJson:
    return BulkJobJson(
        job_id=job.job_id,
        app=job.app,
        action=job.action,
        actor=job.actor,
        params=dict(job.params or {}),
        selection=dict(job.selection or {}),
        state=job.state,
        total=job.total,
        done=job.done,
        succeeded=job.succeeded,
        failed=job.failed,
        created_at=iso_utc(job.created_at),
        updated_at=iso_utc(job.updated_at),
        finished_at=opt_iso_utc(job.finished_at),
        error=job.error,
        items=[bulk_item_json(row) for row in items],
        replayed=replayed,
    )


def bulk_view_json(view: BulkJobView, *, replayed: bool = False) -> BulkJobJson:
    return bulk_job_json(view.job, view.items, replayed=replayed)


def audit_entry_json(row: AuditRow) -> AuditEntryJson:
    return AuditEntryJson(
        ts=iso_utc(row.ts),
        app=row.app,
        actor=row.actor,
        action=row.action,
        target=row.subject,
        outcome=row.outcome,
        detail=row.detail,
        record=row.record,
    )


def audit_page_json(page: AuditPage) -> AuditPageJson:
    return AuditPageJson(
        entries=[audit_entry_json(row) for row in page.entries], next_cursor=page.next_cursor
    )
