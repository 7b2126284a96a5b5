"""The gateway half of status capture: running a ``PollWorkflows`` on one of this pod's executors.

A poll runs bounded ``list_workflows`` queries on the target executor (new workflows since the
cursor, completions since the cursor, active ones), publishes every workflow that changed since
this pod last published it as a ``WorkflowStatus`` (and the steps of a few newly completed ones as
``WorkflowSteps``), and returns the ``PollResult`` with the advanced cursor. The worker half (when
to poll whom, and the cursor's home) is ``capture``.

The cursor arithmetic is pure (``capture.cursor``); the DBOS frames are in ``gateway.queries``,
and every query goes through ``gateway.lookups.ask``.

A poll of an app with payload privacy (``PollWorkflows.payloads_private``) asks with DBOS's
``load_input``/``load_output`` false throughout, steps included, and drops any input, output or
error an executor sends anyway: nothing of them is published.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from capture.cursor import (
    COMPLETED_OVERLAP_MS,
    CREATED_RECHECK_MS,
    CREATED_RECHECK_ROWS,
    advance_completed,
    advance_created,
    completed_query_from,
    completed_window_done,
    first_completed_cursor,
    narrower,
    next_active_offset,
)
from gateway.connection import Connection
from gateway.kafka import KafkaSink
from gateway.lookups import ask
from gateway.queries import (
    WorkflowQuery,
    list_steps_request,
    list_workflows_request,
    read_steps,
    read_workflows,
)
from runtime.clock import wall_ms
from streams.codec import workflow_key
from streams.exceptions import PublishError, RequestError
from streams.ids import GatewayId
from streams.records import (
    ACTIVE_STATES,
    CaptureCursor,
    PollResult,
    PollWorkflows,
    Record,
    WorkflowState,
    WorkflowStatus,
    WorkflowSteps,
)
from streams.topics import Topics

logger = logging.getLogger(__name__)

PUBLISHED_MEMORY = 50_000
"""Workflows whose last published status this pod remembers (to skip unchanged repeats)."""

COMPLETION_WINDOWS = 6
"""Completion windows one poll may list (each up to ``max_pages`` pages)."""

ONE_MILLISECOND_PAGES_FACTOR = 20

_Signature = tuple[str, int | None, str | None, str | None]


@dataclass(slots=True)
class _Poll:
    """One poll's running totals."""

    cursor: CaptureCursor
    requests: int = 0
    seen: int = 0
    more: bool = False
    active_seen: bool = False
    completed: list[WorkflowStatus] = field(default_factory=list)


def _payloads(command: PollWorkflows) -> bool:
    """Whether the poll may ask for and publish inputs, outputs and errors (payload privacy)."""
    return not command.payloads_private


class CapturePoller:
    """Runs capture polls on this pod's executors."""

    def __init__(
        self, sink: KafkaSink, topics: Topics, gateway_id: GatewayId, request_timeout_s: float
    ) -> None:
        self._sink = sink
        self._topics = topics
        self._gateway_id = gateway_id
        self._request_timeout_s = request_timeout_s
        self._published: OrderedDict[bytes, tuple[_Signature, bool, bool]] = OrderedDict()

    async def poll(self, conn: Connection, command: PollWorkflows) -> PollResult:
        """Run one poll; never raises for executor trouble (the result says ``ok=False``)."""
        run = _Poll(cursor=command.cursor)
        try:
            await self._created(conn, command, run)
            if command.recheck_created and not run.more:
                await self._recheck_created(conn, command, run)
            await self._completions(conn, command, run)
            if command.check_active:
                await self._active(conn, command, run)
            await self._steps(conn, command, run)
        except (RequestError, PublishError) as exc:
            return self._result(command, run, ok=False, error=str(exc))
        return self._result(command, run, ok=True, error=None)

    async def _created(self, conn: Connection, command: PollWorkflows, run: _Poll) -> None:
        for _ in range(command.max_pages):
            query = WorkflowQuery(
                created_from_ms=run.cursor.created_from_ms,
                offset=run.cursor.created_skip,
                limit=command.page_size,
                load_input=_payloads(command),
                load_output=_payloads(command),
            )
            page = await self._list(conn, command, query, run)
            created = [s.created_at_ms for s in page if s.created_at_ms is not None]
            run.cursor = advance_created(run.cursor, created)
            if len(page) < command.page_size:
                return
        run.more = True

    async def _recheck_created(self, conn: Connection, command: PollWorkflows, run: _Poll) -> None:
        """List the creations just behind the cursor again (up to ``CREATED_RECHECK_MS`` back,
        newest first, statuses only): a workflow whose insert committed after the cursor passed
        its creation time (concurrent inserts) is found here instead of waiting for the active
        pages. Known ones are published only if they changed; unknown ones are listed again by id
        with their inputs and outputs."""
        end = run.cursor.created_from_ms
        if end <= CREATED_RECHECK_MS:
            return  # nothing listed yet: the creations query itself is still catching up
        # Newest first, just behind the cursor: a late commit is near where the cursor was.
        query = WorkflowQuery(
            created_from_ms=end - CREATED_RECHECK_MS,
            created_before_ms=end,
            limit=CREATED_RECHECK_ROWS,
            newest_first=True,
        )
        page = await self._list(conn, command, query, run, known_only=True)
        unknown = [s.workflow_id for s in page if not self._knows(s)]
        if unknown:
            await self._list(
                conn,
                command,
                WorkflowQuery(
                    workflow_ids=tuple(unknown[: command.page_size]),
                    limit=command.page_size,
                    load_input=_payloads(command),
                    load_output=_payloads(command),
                ),
                run,
            )

    async def _completions(self, conn: Connection, command: PollWorkflows, run: _Poll) -> None:
        """List completions since the cursor, in time windows when they outgrow the budget.

        DBOS orders completions by creation, not completion, so the cursor may only move past a
        window once the whole window was listed: a window that fills its pages is halved and
        listed again, and the span that fitted is kept for the next poll. Bounded windows end at
        least ``COMPLETED_OVERLAP_MS`` before the newest completion seen (the database's clock,
        never this pod's), so a completion committed late is never left behind a window; the
        last window is open-ended and the next poll lists its tail again.
        """
        cursor = run.cursor
        if completed_query_from(cursor) is None:
            run.cursor = first_completed_cursor(cursor, wall_ms())
            return
        span = cursor.completed_span_ms
        start = cursor.completed_from_ms - (0 if span else COMPLETED_OVERLAP_MS)
        newest = cursor.completed_from_ms
        for _ in range(COMPLETION_WINDOWS):
            bounded = span > 0 and start + span <= newest - COMPLETED_OVERLAP_MS
            end = start + span if bounded else None
            times, complete = await self._completed_window(conn, command, run, start, end)
            newest = max([newest, *times])
            if complete and end is None:
                run.cursor = advance_completed(run.cursor, times)
                return
            if complete and end is not None:
                run.cursor = completed_window_done(run.cursor, end, span)
                start, span = end, span * 2
                continue
            if end is not None and end - start <= 1:
                self._skip_millisecond(command, run, end)
                start = end
                continue
            span = narrower(start, end if end is not None else newest + 1)
        run.cursor = replace(run.cursor, completed_span_ms=span)
        run.more = True

    def _skip_millisecond(self, command: PollWorkflows, run: _Poll, end: int) -> None:
        logger.error(
            "capture of app %s skips completions: more than %d completed in one millisecond",
            command.app,
            command.max_pages * ONE_MILLISECOND_PAGES_FACTOR * command.page_size,
        )
        run.cursor = completed_window_done(run.cursor, end, 1)

    async def _completed_window(
        self, conn: Connection, command: PollWorkflows, run: _Poll, start: int, end: int | None
    ) -> tuple[list[int], bool]:
        """Completion times in ``[start, end)`` and whether every page of them was listed.

        The last page asks for one row more than a page, so a window that holds exactly the
        budget is known to be complete. A one-millisecond window may page further: it cannot be
        narrowed any more.
        """
        times: list[int] = []
        pages = command.max_pages
        if end is not None and end - start <= 1:
            pages *= ONE_MILLISECOND_PAGES_FACTOR
        for page_index in range(pages):
            last = page_index == pages - 1
            query = WorkflowQuery(
                completed_from_ms=start,
                completed_before_ms=end,
                offset=page_index * command.page_size,
                limit=command.page_size + (1 if last else 0),
                load_output=_payloads(command),
            )
            page = await self._list(conn, command, query, run)
            times.extend(s.completed_at_ms for s in page if s.completed_at_ms is not None)
            if len(page) < command.page_size or (last and len(page) == command.page_size):
                return times, True
        return times, False

    async def _active(self, conn: Connection, command: PollWorkflows, run: _Poll) -> None:
        """Refresh one page of active workflows (ENQUEUED -> PENDING changes neither creates
        nor completes a workflow); the pages take turns across polls."""
        query = WorkflowQuery(  # one row more than a page: are there more pages?
            statuses=ACTIVE_STATES, limit=command.page_size + 1, offset=run.cursor.active_offset
        )
        page = await self._list(conn, command, query, run)
        run.cursor = next_active_offset(run.cursor, len(page), command.page_size)

    async def _list(
        self,
        conn: Connection,
        command: PollWorkflows,
        query: WorkflowQuery,
        run: _Poll,
        *,
        known_only: bool = False,
    ) -> list[WorkflowStatus]:
        """One ``list_workflows`` request; publishes what changed (with ``known_only``: only
        among the workflows this pod published before)."""
        run.requests += 1
        reply = await ask(conn, list_workflows_request(query), self._request_timeout_s)
        page = read_workflows(
            reply,
            command.app,
            wall_ms(),
            has_input=query.load_input,
            has_output=query.load_output,
        )
        run.seen += len(page)
        run.active_seen = run.active_seen or any(s.status in ACTIVE_STATES for s in page)
        listed = [s for s in page if self._knows(s)] if known_only else page
        changed = [s for s in listed if self._changed(s)]
        # Newly seen finished: their steps are worth capturing (not those listed again).
        run.completed.extend(s for s in changed if s.status not in ACTIVE_STATES)
        try:
            await self._publish(changed)
        except PublishError:
            for status in changed:  # not published after all: publish them next time
                self._published.pop(workflow_key(status.app, status.workflow_id), None)
            raise
        return page

    async def _steps(self, conn: Connection, command: PollWorkflows, run: _Poll) -> None:
        # Failed and cancelled workflows first: their steps are what an operator looks for.
        done = sorted(run.completed, key=lambda s: s.status == WorkflowState.SUCCESS)
        records: list[Record] = []
        for status in done[: command.steps_budget]:
            run.requests += 1
            asked = list_steps_request(status.workflow_id, payloads=_payloads(command))
            reply = await ask(conn, asked, self._request_timeout_s)
            steps = read_steps(reply, payloads=_payloads(command))
            if steps is not None:
                records.append(
                    WorkflowSteps(
                        app=command.app,
                        workflow_id=status.workflow_id,
                        steps=steps,
                        observed_at_ms=wall_ms(),
                    )
                )
        await self._publish(records)

    def _result(
        self, command: PollWorkflows, run: _Poll, *, ok: bool, error: str | None
    ) -> PollResult:
        return PollResult(
            command_id=command.command_id,
            app=command.app,
            gateway=self._gateway_id,
            executor_id=command.target,
            ok=ok,
            cursor=run.cursor if ok else command.cursor,
            workflows_seen=run.seen,
            requests=run.requests,
            more=run.more,
            active_seen=run.active_seen,
            ts_ms=wall_ms(),
            error=error,
        )

    def failed_poll(self, command: PollWorkflows, reason: str) -> PollResult:
        """The result of a poll this pod could not run."""
        return self._result(command, _Poll(cursor=command.cursor), ok=False, error=reason)

    def _knows(self, status: WorkflowStatus) -> bool:
        """Whether this pod published the workflow before (and still remembers it)."""
        return workflow_key(status.app, status.workflow_id) in self._published

    def _changed(self, status: WorkflowStatus) -> bool:
        """Whether ``status`` says more than what this pod last published for the workflow."""
        key = workflow_key(status.app, status.workflow_id)
        signature: _Signature = (
            status.status,
            status.updated_at_ms,
            status.executor_id,
            status.queue_name,
        )
        last = self._published.get(key)
        if last is not None:
            self._published.move_to_end(key)
            same = last[0] == signature
            if same and (last[1] or not status.has_input) and (last[2] or not status.has_output):
                return False
            has_input = status.has_input or (same and last[1])
            has_output = status.has_output or (same and last[2])
        else:
            has_input, has_output = status.has_input, status.has_output
        self._published[key] = (signature, has_input, has_output)
        while len(self._published) > PUBLISHED_MEMORY:
            self._published.popitem(last=False)
        return True

    async def _publish(self, records: Sequence[Record]) -> None:
        if records:
            await self._sink.publish_batch(self._topics.workflow_events, list(records))
