"""Store rows and workflow records as JSON-ready dicts: the one shape the HTTP API returns and the
CLI tables print.

Timestamps become ISO 8601 UTC strings (``2024-05-01T12:00:00.000Z``). The ``TypedDict``s here are
also the response schemas of the OpenAPI document (``console.api.openapi``), so they stay written
out; a workflow's JSON is built from its ``TypedDict``'s keys, each the ``WorkflowStatus`` field of
the same name (``json_key``), and a test checks that the detail shows every field. Pure: no HTTP
here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict, cast

from console.detail import StepsView, WorkflowView
from store.models import ExecutorRow, RecoveryRow, utc_from_ms
from store.projection import AppSummary
from store.workflow_queries import QueueSummary
from streams.bounds import bound_text
from streams.dbos_clients import compatibility_warning
from streams.records import StepInfo, WorkflowState, WorkflowStatus

LIST_ERROR_CHARS = 512
"""Errors in workflow lists are cut shorter than in the detail: a list is a summary."""


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
    compatibility_warning: str | None
    """Why its DBOS client (language, version) is outside Baton's tested matrix; None inside."""


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
    workflows: int
    """Workflows the store holds for the app."""


class WorkflowSummaryJson(TypedDict):
    workflow_id: str
    status: str
    name: str | None
    class_name: str | None
    queue_name: str | None
    application_version: str | None
    executor_id: str | None
    created_at: str | None
    updated_at: str | None
    completed_at: str | None
    parent_workflow_id: str | None
    error: str | None
    """Cut to ``LIST_ERROR_CHARS``."""


class WorkflowPageJson(TypedDict):
    workflows: list[WorkflowSummaryJson]
    counts: dict[str, int]
    """Workflows per status matching every filter but ``status``."""
    limit: int
    offset: int
    next_cursor: str | None
    payloads_hidden: str | None
    """Why errors are hidden: ``"hidden (payload privacy on for this app)"``, or ``"hidden
    (viewers are shown no payloads in this console)"`` (every row's ``error`` is then null
    whatever the workflow holds, as in a workflow's detail); else null."""


class QueuedPageJson(TypedDict):
    workflows: list[WorkflowSummaryJson]
    limit: int
    offset: int


class ChildJson(TypedDict):
    workflow_id: str
    status: str


class WorkflowDetailJson(TypedDict):
    workflow_id: str
    status: str
    name: str | None
    class_name: str | None
    config_name: str | None
    authenticated_user: str | None
    assumed_role: str | None
    authenticated_roles: str | None
    input: str | None
    output: str | None
    error: str | None
    has_input: bool
    has_output: bool
    created_at: str | None
    updated_at: str | None
    completed_at: str | None
    dequeued_at: str | None
    queue_name: str | None
    queue_partition_key: str | None
    deduplication_id: str | None
    priority: int | None
    application_version: str | None
    executor_id: str | None
    timeout_ms: int | None
    deadline: str | None
    delay_until: str | None
    forked_from: str | None
    was_forked_from: bool
    parent_workflow_id: str | None
    attributes: str | None
    schedule_name: str | None
    children: list[ChildJson]
    source: Literal["live", "store"]
    stale_as_of: str | None
    """None when live; else when the store last observed the workflow."""
    payloads_hidden: str | None
    """Why payloads are hidden: ``"hidden (payload privacy on for this app)"``, or ``"hidden
    (viewers are shown no payloads in this console)"`` (``input``, ``output`` and ``error`` are
    then null whatever the workflow holds); else null."""


class StepJson(TypedDict):
    function_id: int
    function_name: str
    output: str | None
    error: str | None
    child_workflow_id: str | None
    started_at: str | None
    completed_at: str | None
    duration_ms: int | None


class StepsJson(TypedDict):
    steps: list[StepJson]
    source: Literal["live", "store"]
    stale_as_of: str | None
    payloads_hidden: str | None
    """As in a workflow's detail: the steps' outputs and errors are then null."""


class QueueJson(TypedDict):
    queue_name: str
    enqueued: int
    pending: int
    delayed: int


class ErrorJson(TypedDict):
    error: str


class _HealthDetail(TypedDict, total=False):
    unreachable: dict[str, str]
    """Dependency (``kafka``, ``store``) -> why it cannot be reached."""
    reason: str
    """What failed (``failed`` only)."""


class HealthJson(_HealthDetail):
    """``runtime.readiness``: ``/healthz`` says ok, degraded or failed; ``/readyz`` ready or
    unready."""

    status: Literal["ok", "degraded", "failed", "ready", "unready"]


def iso_utc(moment: datetime) -> str:
    """A timezone-aware datetime as ISO 8601 in UTC, to the millisecond, with a ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def opt_iso_utc(moment: datetime | None) -> str | None:
    """``iso_utc``, passing None through."""
    return None if moment is None else iso_utc(moment)


def iso_from_ms(epoch_ms: int | None) -> str | None:
    """An epoch-milliseconds time as ISO 8601 UTC, passing None through."""
    return None if epoch_ms is None else iso_utc(utc_from_ms(epoch_ms))


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
        last_seen=iso_utc(row.seen_at),
        disconnected_at=opt_iso_utc(row.disconnected_at),
        close_code=row.close_code,
        close_reason=row.close_reason,
        compatibility_warning=compatibility_warning(row.language, row.dbos_version),
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


def app_json(summary: AppSummary, workflows: int = 0) -> AppJson:
    """One app with its executor counts by state and its stored workflow count."""
    return AppJson(app=summary.app, executors=dict(summary.executors_by_state), workflows=workflows)


def status_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """Counts for every known status (zero when absent), then any unknown ones as stored."""
    known = {state.value: counts.get(state.value, 0) for state in WorkflowState}
    return known | {status: n for status, n in sorted(counts.items()) if status not in known}


def json_key(field_name: str) -> str:
    """The JSON key of a ``WorkflowStatus`` field: an epoch-ms time is shown as ISO 8601 text
    under its name without the ``_ms``/``_epoch_ms`` suffix (``created_at``, ``deadline``)."""
    for suffix, keep in (("_epoch_ms", ""), ("_at_ms", "_at")):
        if field_name.endswith(suffix):
            return field_name.removesuffix(suffix) + keep
    return field_name


_FIELD_OF_KEY = {json_key(f.name): f.name for f in fields(WorkflowStatus)}
"""The ``WorkflowStatus`` field each JSON key shows."""

_TIMES = frozenset(key for key, name in _FIELD_OF_KEY.items() if key != name)


def _workflow_values(status: WorkflowStatus, shape: type[Any]) -> dict[str, Any]:
    """The record's fields under the keys of ``shape`` (a ``TypedDict``), in its key order;
    the keys that are not record fields are the caller's."""
    values: dict[str, Any] = {}
    for key in shape.__annotations__:
        name = _FIELD_OF_KEY.get(key)
        if name is not None:
            value = getattr(status, name)
            values[key] = iso_from_ms(value) if key in _TIMES else value
    return values


def workflow_summary_json(status: WorkflowStatus) -> WorkflowSummaryJson:
    """One workflow in a list: no inputs or outputs, and a short error."""
    values = _workflow_values(status, WorkflowSummaryJson)
    values["error"] = bound_text(status.error, LIST_ERROR_CHARS)
    return cast(WorkflowSummaryJson, values)


def workflow_page_json(
    statuses: Sequence[WorkflowStatus],
    counts: Mapping[str, int],
    *,
    limit: int,
    offset: int,
    next_cursor: str | None,
    payloads_hidden: str | None = None,
) -> WorkflowPageJson:
    """One page of the workflow list, with the counts per status; with ``payloads_hidden`` (why
    they are) the rows' errors are null and the page says so."""
    rows = [workflow_summary_json(status) for status in statuses]
    if payloads_hidden:
        for row in rows:
            row["error"] = None
    return WorkflowPageJson(
        workflows=rows,
        counts=status_counts(counts),
        limit=limit,
        offset=offset,
        next_cursor=next_cursor,
        payloads_hidden=payloads_hidden,
    )


def workflow_detail_json(view: WorkflowView) -> WorkflowDetailJson:
    """A workflow's full detail: inputs, output, error, children, and where it came from."""
    values = _workflow_values(view.status, WorkflowDetailJson)
    values["children"] = [
        ChildJson(workflow_id=c.workflow_id, status=c.status) for c in view.children
    ]
    values["source"] = view.source.value
    values["stale_as_of"] = iso_from_ms(view.stale_as_of_ms)
    values["payloads_hidden"] = view.payloads_hidden
    return cast(WorkflowDetailJson, values)


def step_duration_ms(step: StepInfo) -> int | None:
    """How long a step ran, when it has both ends."""
    if step.started_at_ms is None or step.completed_at_ms is None:
        return None
    return max(0, step.completed_at_ms - step.started_at_ms)


def step_json(step: StepInfo) -> StepJson:
    """One step of a workflow."""
    return StepJson(
        function_id=step.function_id,
        function_name=step.function_name,
        output=step.output,
        error=step.error,
        child_workflow_id=step.child_workflow_id,
        started_at=iso_from_ms(step.started_at_ms),
        completed_at=iso_from_ms(step.completed_at_ms),
        duration_ms=step_duration_ms(step),
    )


def steps_json(view: StepsView) -> StepsJson:
    """A workflow's steps and where they came from."""
    return StepsJson(
        steps=[step_json(step) for step in view.steps],
        source=view.source.value,
        stale_as_of=iso_from_ms(view.stale_as_of_ms),
        payloads_hidden=view.payloads_hidden,
    )


def queue_json(summary: QueueSummary) -> QueueJson:
    """One queue with its counts of enqueued, pending and delayed workflows."""
    return QueueJson(
        queue_name=summary.queue_name,
        enqueued=summary.enqueued,
        pending=summary.pending,
        delayed=summary.delayed,
    )
