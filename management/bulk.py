"""Bulk actions: one action on many workflows, chosen by id or by the workflows list's filter.

Owns a bulk job's life: the selection (at most ``MAX_BULK_WORKFLOWS``; a dry run only counts it),
the job and its items in the store, the run in the background in chunks (one DBOS request with
``workflow_ids`` per chunk and application version; per-workflow requests when a chunk fails, so
each workflow gets its own outcome; restarts and rewinds one by one, as DBOS does them), its
progress, and one audit record when it ends. Must not import the gateway, Faust or Kafka.

Jobs run as jobs of a ``runtime.lifecycle.Service`` that the console's lifespan starts and stops
(``async with bulk_jobs``); a stop cancels the running jobs, which are reported interrupted later.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import TracebackType
from typing import Any

from management.actions import Actions
from management.idempotency import check_idempotency_key, derived_workflow_id
from management.operations import MAX_START_STEP, RESTART_START_STEP, JsonBody, Operation
from management.outcomes import ActionFailed, Execution, FailureReason
from management.params import WORKFLOW_PARAMS, BadParameter, parse_workflow_id, parse_workflow_query
from runtime.clock import wall_ms
from runtime.lifecycle import Service
from store.bulk_jobs import (
    ItemOutcome,
    JobState,
    NewBulkJob,
    create_job,
    final_state,
    finish_job,
    get_job,
    interrupt_stale_jobs,
    list_job_items,
    list_jobs,
    pending_items,
    record_outcomes,
)
from store.database import Store
from store.models import BulkJobItemRow, BulkJobRow
from store.workflow_queries import WorkflowFilter, select_workflows, versions_of
from streams.ids import AppName
from streams.records import ActionOutcome, OperatorAction, RequestKind

logger = logging.getLogger(__name__)

MAX_BULK_WORKFLOWS = 10_000
"""A larger selection is refused: narrow the filter."""
CHUNK_SIZE = 100
"""Workflows per DBOS request."""
ONE_BY_ONE_CONCURRENCY = 4
"""Restarts and rewinds (one DBOS request per workflow) in flight at once."""
SAMPLE_SIZE = 20
STALE_AFTER = timedelta(minutes=2)
"""A running job not updated for this long was left by a console that stopped: interrupted."""
FILTER_FIELDS = tuple(
    name for name in WORKFLOW_PARAMS if name not in ("limit", "offset", "cursor", "sort")
)
"""The workflows list's filter parameters: what a bulk job's ``filter`` may hold."""


class BulkAction(StrEnum):
    CANCEL = "cancel"
    RESUME = "resume"
    RESTART = "restart"
    REWIND = "rewind"
    DELETE = "delete"
    FORK_FROM_FAILURE = "fork_from_failure"


_KINDS = {
    BulkAction.CANCEL: RequestKind.CANCEL,
    BulkAction.RESUME: RequestKind.RESUME,
    BulkAction.DELETE: RequestKind.DELETE,
    BulkAction.FORK_FROM_FAILURE: RequestKind.FORK_FROM_FAILURE,
}
_NEEDS_VERSION = (
    BulkAction.RESUME,
    BulkAction.RESTART,
    BulkAction.REWIND,
    BulkAction.FORK_FROM_FAILURE,
)
_ONE_BY_ONE = (BulkAction.RESTART, BulkAction.REWIND)


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkSpec:
    """A bulk request: what to do to which workflows.

    Attributes:
        action: the action.
        workflow_ids: an explicit selection, or None.
        flt: a filter selection (the workflows list's), or None.
        options: the action's options (``cancel_children``, ``delete_children``, ``queue_name``,
            ``application_version``, a rewind's ``start_step``).
        dry_run: only count the selection.
    """

    action: BulkAction
    workflow_ids: tuple[str, ...] | None
    flt: WorkflowFilter | None
    selection: Mapping[str, Any]
    """The selection as given (audited and kept with the job)."""
    options: Mapping[str, Any]
    dry_run: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkPreview:
    matched: int
    sample: list[str]
    truncated: bool
    """More than ``MAX_BULK_WORKFLOWS`` matched: the job would be refused."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkJobView:
    """A job and (when asked for) a page of its items."""

    job: BulkJobRow
    items: list[BulkJobItemRow]


def parse_bulk_body(body: JsonBody) -> BulkSpec:
    """Read a bulk request's JSON body.

    Raises:
        BadParameter: a field is missing, malformed or unknown.
    """
    raw_action = body.required_text("action", max_chars=32)
    try:
        action = BulkAction(raw_action)
    except ValueError:
        allowed = ", ".join(a.value for a in BulkAction)
        raise BadParameter("action", f"must be one of {allowed}") from None
    ids_value = body.raw("workflow_ids")
    filter_value = body.raw("filter")
    if (ids_value is None) == (filter_value is None):
        raise BadParameter("workflow_ids", "give either workflow_ids or filter (not both)")
    workflow_ids: tuple[str, ...] | None = None
    flt: WorkflowFilter | None = None
    if ids_value is not None:
        if not isinstance(ids_value, list) or not all(isinstance(v, str) for v in ids_value):
            raise BadParameter("workflow_ids", "must be a list of workflow ids")
        if not 1 <= len(ids_value) <= MAX_BULK_WORKFLOWS:
            raise BadParameter("workflow_ids", f"give 1 to {MAX_BULK_WORKFLOWS} workflow ids")
        workflow_ids = tuple(dict.fromkeys(parse_workflow_id(v) for v in ids_value))
        selection: dict[str, Any] = {"workflow_ids": len(workflow_ids)}
    else:
        flt = _parse_filter(filter_value)
        selection = {"filter": filter_value}
    options: dict[str, Any] = {}
    if action is BulkAction.CANCEL:
        options["cancel_children"] = body.flag("cancel_children")
    if action is BulkAction.DELETE:
        options["delete_children"] = body.flag("delete_children")
    if action in (BulkAction.RESUME, BulkAction.FORK_FROM_FAILURE):
        queue = body.text("queue_name")
        if queue is not None:
            options["queue_name"] = queue
    if action is BulkAction.REWIND:
        start_step = body.integer("start_step", low=0, high=MAX_START_STEP)
        if start_step is not None:
            options["start_step"] = start_step
    if action is BulkAction.FORK_FROM_FAILURE:
        version = body.text("application_version")
        if version is not None:
            options["application_version"] = version
    dry_run = body.flag("dry_run")
    body.close()
    return BulkSpec(
        action=action,
        workflow_ids=workflow_ids,
        flt=flt,
        selection=selection,
        options=options,
        dry_run=dry_run,
    )


def _parse_filter(value: object) -> WorkflowFilter:
    if not isinstance(value, dict):
        raise BadParameter("filter", "must be an object of the workflows list's filters")
    items: list[tuple[str, str]] = []
    for name, field_value in value.items():
        if name not in FILTER_FIELDS:
            raise BadParameter(f"filter.{name}", f"is not a filter; use {', '.join(FILTER_FIELDS)}")
        values = field_value if isinstance(field_value, list) else [field_value]
        for one in values:
            if isinstance(one, bool) or not isinstance(one, (str, int)):
                raise BadParameter(f"filter.{name}", "must be a string (or a list of strings)")
            items.append((name, str(one)))
    flt = parse_workflow_query(items).flt
    if flt == WorkflowFilter():
        raise BadParameter("filter", "an empty filter would select every workflow: give one")
    return flt


class BulkJobs:
    """Previews, starts and reports bulk jobs; runs them in this process's background while it
    is entered (``async with``).

    Args:
        store: a started store.
        actions: carries out each chunk and audits each job.
    """

    def __init__(self, store: Store, actions: Actions) -> None:
        self._store = store
        self._actions = actions
        self._runner = Service("bulk jobs")
        self._running: dict[str, asyncio.Task[None]] = {}

    async def __aenter__(self) -> BulkJobs:
        await self._runner.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def preview(self, app: AppName, spec: BulkSpec) -> BulkPreview:
        """How many workflows the request selects (nothing is done)."""
        selected = await self._select(app, spec)
        return BulkPreview(
            matched=min(len(selected), MAX_BULK_WORKFLOWS),
            sample=[workflow_id for workflow_id, _ in selected[:SAMPLE_SIZE]],
            truncated=len(selected) > MAX_BULK_WORKFLOWS,
        )

    async def start(
        self, app: AppName, spec: BulkSpec, *, actor: str, idempotency_key: str | None
    ) -> tuple[BulkJobView, bool]:
        """Create a job and run it in the background.

        Returns:
            The job, and whether it already existed (the same idempotency key).

        Raises:
            ActionFailed: the selection is empty or too large (bad_request).
            ServiceNotRunning: the jobs' runner is not entered, or stopping.
        """
        self._runner.ensure_running()
        job_id = check_idempotency_key(idempotency_key or uuid.uuid4().hex[:20])[:64]
        existing = await self.get(app, job_id, items=0)
        if existing is not None:
            if existing.job.action != spec.action.value:
                raise ActionFailed(
                    f"this Idempotency-Key was already used for bulk {existing.job.action}",
                    reason=FailureReason.KEY_REUSED,
                )
            return existing, True
        selected = await self._select(app, spec)
        if not selected:
            raise ActionFailed(
                "no workflow matches: nothing to do", reason=FailureReason.BAD_REQUEST
            )
        if len(selected) > MAX_BULK_WORKFLOWS:
            raise ActionFailed(
                f"more than {MAX_BULK_WORKFLOWS} workflows match: narrow the filter",
                reason=FailureReason.BAD_REQUEST,
            )
        async with self._store.sessionmaker.begin() as session:
            await create_job(
                session,
                NewBulkJob(
                    job_id=job_id,
                    app=app,
                    action=spec.action.value,
                    actor=actor,
                    params=dict(spec.options),
                    selection=dict(spec.selection),
                    created_at=datetime.now(UTC),
                ),
                [workflow_id for workflow_id, _ in selected],
            )
        versions = {workflow_id: version for workflow_id, version in selected}
        self._running[job_id] = self._runner.tasks.job(
            f"bulk-{job_id}", self._run(app, job_id, spec, actor, versions, wall_ms())
        )
        view = await self.get(app, job_id, items=0)
        assert view is not None
        return view, False

    async def get(
        self, app: AppName, job_id: str, *, items: int = 100, offset: int = 0
    ) -> BulkJobView | None:
        """A job with a page of its items (None: unknown). A running job that no console has
        touched for a while is reported interrupted."""
        async with self._store.sessionmaker.begin() as session:
            job = await get_job(session, app, job_id)
            if job is None:
                return None
            if _stale(job):
                await interrupt_stale_jobs(session, datetime.now(UTC) - STALE_AFTER)
                await session.refresh(job)
            rows = (
                await list_job_items(session, job_id, limit=items, offset=offset) if items else []
            )
        return BulkJobView(job=job, items=rows)

    async def history(self, app: AppName, limit: int = 50) -> list[BulkJobRow]:
        """An app's jobs, newest first."""
        async with self._store.sessionmaker.begin() as session:
            jobs: list[BulkJobRow] = await list_jobs(session, app, limit)
            if any(_stale(job) for job in jobs):
                await interrupt_stale_jobs(session, datetime.now(UTC) - STALE_AFTER)
                for job in jobs:
                    await session.refresh(job)
            return jobs

    async def wait(self, job_id: str) -> None:
        """Wait for a job this process runs to end (tests)."""
        task = self._running.get(job_id)
        if task is not None:
            await asyncio.shield(task)

    async def stop(self) -> None:
        """Stop the running jobs (they are reported interrupted later); idempotent."""
        await self._runner.stop()

    async def _select(self, app: AppName, spec: BulkSpec) -> list[tuple[str, str | None]]:
        async with self._store.sessionmaker.begin() as session:
            if spec.workflow_ids is not None:
                known = await versions_of(session, app, spec.workflow_ids)
                return [(workflow_id, known.get(workflow_id)) for workflow_id in spec.workflow_ids]
            assert spec.flt is not None
            return await select_workflows(session, app, spec.flt, limit=MAX_BULK_WORKFLOWS + 1)

    async def _run(
        self,
        app: AppName,
        job_id: str,
        spec: BulkSpec,
        actor: str,
        versions: Mapping[str, str | None],
        requested_at_ms: int,
    ) -> None:
        try:
            state, error = await self._run_chunks(app, job_id, spec, versions)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("bulk job %s failed", job_id, extra={"app": app})
            state, error = JobState.FAILED, f"the job stopped: {type(exc).__name__}"
        finally:
            self._running.pop(job_id, None)
        async with self._store.sessionmaker.begin() as session:
            await finish_job(session, job_id, state, error, datetime.now(UTC))
            job = await get_job(session, app, job_id)
        assert job is not None
        await self._actions.audit(
            OperatorAction(
                action_id=f"bulk-{job_id}",
                app=app,
                actor=actor,
                action=f"bulk.{spec.action.value}",
                target=job_id,
                params={**spec.selection, **spec.options},
                outcome=ActionOutcome.SUCCEEDED
                if state is JobState.SUCCEEDED
                else ActionOutcome.FAILED,
                requested_at_ms=requested_at_ms,
                finished_at_ms=wall_ms(),
                error=error,
                result={"total": job.total, "succeeded": job.succeeded, "failed": job.failed},
            )
        )

    async def _run_chunks(
        self, app: AppName, job_id: str, spec: BulkSpec, versions: Mapping[str, str | None]
    ) -> tuple[JobState, str | None]:
        chunk_no = 0
        while True:
            async with self._store.sessionmaker.begin() as session:
                batch = await pending_items(session, job_id, CHUNK_SIZE)
            if not batch:
                break
            for version, ids in _by_version(batch, versions, spec).items():
                outcomes = await self._run_chunk(app, job_id, spec, version, ids, chunk_no)
                async with self._store.sessionmaker.begin() as session:
                    await record_outcomes(session, job_id, outcomes)
                chunk_no += 1
        async with self._store.sessionmaker.begin() as session:
            job = await get_job(session, app, job_id)
        assert job is not None
        state = final_state(job)
        if state is JobState.SUCCEEDED:
            return state, None
        return state, f"{job.failed} of {job.total} workflows failed"

    async def _run_chunk(
        self,
        app: AppName,
        job_id: str,
        spec: BulkSpec,
        version: str | None,
        ids: list[str],
        chunk_no: int,
    ) -> list[ItemOutcome]:
        if spec.action in _ONE_BY_ONE:
            return await self._one_by_one(app, job_id, spec, version, ids)
        execution = await self._actions.execute(
            app, self._operation(spec, version, ids), request_base=f"{job_id}.{chunk_no}"
        )
        if execution.ok:
            return _all(ids, execution)
        if len(ids) == 1 or execution.reason is not FailureReason.EXECUTOR_ERROR:
            return _all(ids, execution)
        # One bad workflow fails the whole DBOS request: ask one by one to know which.
        outcomes: list[ItemOutcome] = []
        for index, workflow_id in enumerate(ids):
            one = await self._actions.execute(
                app,
                self._operation(spec, version, [workflow_id]),
                request_base=f"{job_id}.{chunk_no}.{index}",
            )
            outcomes.extend(_all([workflow_id], one))
        return outcomes

    async def _one_by_one(
        self, app: AppName, job_id: str, spec: BulkSpec, version: str | None, ids: list[str]
    ) -> list[ItemOutcome]:
        """Restarts (each a fork to a new id derived from the job) or rewinds (each keeps its id),
        one DBOS request per workflow."""
        limit = asyncio.Semaphore(ONE_BY_ONE_CONCURRENCY)

        async def one(workflow_id: str) -> ItemOutcome:
            ref = derived_workflow_id(app, f"{job_id}/{workflow_id}")
            new_id: str | None = None
            if spec.action is BulkAction.RESTART:
                new_id = ref
                kind = RequestKind.FORK
                params: dict[str, Any] = {
                    "start_step": RESTART_START_STEP,
                    "new_workflow_id": new_id,
                }
            else:
                kind, params = RequestKind.REWIND, dict(spec.options)
            operation = Operation(
                action=f"workflow.{spec.action.value}",
                kind=kind,
                target=workflow_id,
                workflow_id=workflow_id,
                params=params,
                version=version,
            )
            async with limit:
                execution = await self._actions.execute(
                    app, operation, request_base=f"{job_id}.{ref}"
                )
            return ItemOutcome(
                workflow_id=workflow_id,
                succeeded=execution.ok,
                error=execution.error,
                new_workflow_id=new_id if execution.ok else None,
            )

        return list(await asyncio.gather(*(one(workflow_id) for workflow_id in ids)))

    @staticmethod
    def _operation(spec: BulkSpec, version: str | None, ids: Sequence[str]) -> Operation:
        params: dict[str, Any] = {"workflow_ids": list(ids), **spec.options}
        if spec.action is BulkAction.FORK_FROM_FAILURE:
            version = spec.options.get("application_version") or version
        return Operation(
            action=f"bulk.{spec.action.value}",
            kind=_KINDS[spec.action],
            target=ids[0],
            workflow_id=ids[0],
            params=params,
            version=version,
        )


def _stale(job: BulkJobRow) -> bool:
    """A running job no console has updated for ``STALE_AFTER`` (checked before writing)."""
    return job.state == JobState.RUNNING and job.updated_at < datetime.now(UTC) - STALE_AFTER


def _by_version(
    batch: Sequence[str], versions: Mapping[str, str | None], spec: BulkSpec
) -> dict[str | None, list[str]]:
    groups: dict[str | None, list[str]] = {}
    for workflow_id in batch:
        version = versions.get(workflow_id) if spec.action in _NEEDS_VERSION else None
        groups.setdefault(version, []).append(workflow_id)
    return groups


def _all(ids: Sequence[str], execution: Execution) -> list[ItemOutcome]:
    return [
        ItemOutcome(
            workflow_id=workflow_id,
            succeeded=execution.ok,
            error=None if execution.ok else execution.error,
            new_workflow_id=None,
        )
        for workflow_id in ids
    ]
