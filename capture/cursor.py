"""Incremental workflow status capture: the poller of one app and the cursor arithmetic.

DBOS executors never push; Baton asks. For each app, the one worker that owns the app's partition
of the executor events topic (Kafka partition ownership, so exactly one in the cluster) runs this
poller: every ``interval_ms`` it picks one live executor and issues a ``PollWorkflows`` command.
The gateway holding that executor lists what changed since the cursor (workflows created since
``created_from_ms``, completed since ``completed_from_ms``, and the active ones), publishes each as
a ``WorkflowStatus`` and answers with a ``PollResult`` carrying the advanced cursor. One poll is in
flight per app at a time; a poll that gets no result within ``timeout_ms`` is issued again.

The cursor is in the executors' system database clock (DBOS ``created_at`` / ``completed_at``), so
no clock comparison between hosts is involved. Pure: no Faust, Kafka, asyncio or clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import orjson

from streams.ids import AppName, CommandId, ExecutorId, GatewayId
from streams.records import CaptureCursor, PollResult, PollWorkflows

COMPLETED_OVERLAP_MS = 1_000
"""Completions are listed again this far back: a workflow that committed its completion a little
after a later one is still seen (completion times come from several executors' transactions)."""
CREATED_RECHECK_MS = 15_000
"""A poll with ``recheck_created`` lists again the creations this far back from the cursor: a
workflow inserted concurrently may commit after the cursor passed its creation time. It covers
the polls between two rechecks (``active_every`` times the interval) with room to spare."""
CREATED_RECHECK_ROWS = 500
"""At most this many statuses per recheck, the newest behind the cursor (no inputs or outputs:
cheap rows)."""


IDLE_PAUSE_DIVISOR = 10
"""An idle app's pause is its quiet time divided by this (capped by ``idle_interval_ms``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureTimings:
    """How often and how much the capture asks of an executor."""

    interval_ms: int = 2_000
    """Pause between polls of an app at steady state."""
    idle_after_ms: int = 60_000
    """Polls that have seen nothing new (no workflow created or completed, none active) for this
    long make the app idle: its pause then grows with the quiet, a tenth of how long it has been
    quiet (6 s after a quiet minute), up to ``idle_interval_ms``, until a poll sees something."""
    idle_interval_ms: int = 30_000
    """The longest pause between polls of an idle app (never shorter than ``interval_ms``),
    reached after five quiet minutes. Each poll is two records (the command and its result) that
    the embedded broker keeps forever: at 2 s they were ~120 MB a day of its memory for an idle
    app (issue 12). The first workflow after a quiet spell is seen within the pause: a short
    lull costs little freshness, a long one little memory."""
    catch_up_interval_ms: int = 100
    """Pause when the last poll hit its page limit (a backlog to catch up on)."""
    timeout_ms: int = 15_000
    """A poll without a result after this long is issued again."""
    retry_ms: int = 2_000
    """Pause after a failed poll."""
    page_size: int = 100
    max_pages: int = 5
    """Pages per query window: new workflows take one window a poll; completions take up to
    ``gateway.polling.COMPLETION_WINDOWS`` when they outgrow one."""
    active_every: int = 5
    """When no workflow was active, active statuses are still refreshed every this many polls
    (a resumed workflow becomes active without being created or completed)."""
    steps_budget: int = 5
    """Newly completed workflows per poll whose steps are captured (one ``list_steps`` each;
    failed and cancelled ones first). The others' steps are stored when someone views them."""


class LiveExecutor(Protocol):
    """An executor a poll may be sent to (the liveness view's records are such)."""

    @property
    def executor_id(self) -> ExecutorId: ...

    @property
    def gateway(self) -> GatewayId:
        """The gateway pod holding its session (the poll command is addressed to it)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class AppCapture:
    """The capture state of one app (the cursor is persisted; the rest is rebuilt)."""

    app: AppName
    cursor: CaptureCursor | None = None
    """``None`` until the first poll: it then starts from the beginning of the app's history."""
    seq: int = 0
    in_flight: CommandId | None = None
    in_flight_since_ms: int = 0
    next_due_ms: int = 0
    last_target: ExecutorId | None = None
    active_seen: bool = True
    """The last poll saw active workflows (or none ran yet): refresh them every poll."""
    quiet_since_ms: int | None = None
    """When the current run of polls that saw no workflow began (``None``: the last saw one)."""
    polls: int = 0
    requests: int = 0
    """DBOS requests the polls of this app cost so far (for the cost figure)."""


def poll_due(capture: AppCapture, now_ms: int, timings: CaptureTimings) -> bool:
    """Whether the app's next poll is due at ``now_ms``: its pause is over and no poll is in
    flight (or the one in flight timed out). ``plan_poll`` issues one then, if an executor is
    live: a caller may skip finding the live executors when it is not."""
    if now_ms < capture.next_due_ms:
        return False
    return capture.in_flight is None or now_ms - capture.in_flight_since_ms >= timings.timeout_ms


def plan_poll(
    capture: AppCapture,
    live: Sequence[LiveExecutor],
    now_ms: int,
    timings: CaptureTimings,
    *,
    payloads_private: bool = False,
) -> tuple[AppCapture, PollWorkflows | None]:
    """Issue the next poll if one is due and an executor is live.

    Args:
        capture: the app's capture state.
        live: the app's connected executors.
        now_ms: the time now.
        timings: how often and how much to ask.
        payloads_private: payload privacy is on for the app: the poll asks for no inputs,
            outputs or errors (``PollWorkflows.payloads_private``).

    Returns:
        The new state and the command to send (``None`` when nothing is due).
    """
    if not live or not poll_due(capture, now_ms, timings):
        return capture, None
    target = _choose(live, capture.last_target)
    seq = capture.seq + 1
    cursor = capture.cursor or CaptureCursor(completed_from_ms=0)
    command = PollWorkflows(
        command_id=CommandId(f"poll:{capture.app}:{now_ms}:{seq}"),
        app=capture.app,
        target=target.executor_id,
        target_gateway=target.gateway,
        cursor=cursor,
        page_size=timings.page_size,
        max_pages=timings.max_pages,
        check_active=capture.active_seen or seq % timings.active_every == 0,
        recheck_created=seq % timings.active_every == 0,
        steps_budget=timings.steps_budget,
        issued_at_ms=now_ms,
        timeout_ms=timings.timeout_ms,
        payloads_private=payloads_private,
    )
    state = replace(
        capture,
        seq=seq,
        in_flight=command.command_id,
        in_flight_since_ms=now_ms,
        last_target=target.executor_id,
        cursor=cursor,
    )
    return state, command


def on_result(
    capture: AppCapture, result: PollResult, now_ms: int, timings: CaptureTimings
) -> AppCapture:
    """Take a poll's result: advance the cursor and schedule the next poll.

    A result of a poll that is no longer in flight (a duplicate, or one given up on) changes
    nothing except that its cursor is kept when it is further along: polls are idempotent.
    """
    if result.command_id != capture.in_flight:
        if result.ok and capture.cursor is not None:
            return replace(capture, cursor=furthest(capture.cursor, result.cursor))
        return capture
    if not result.ok:
        return replace(capture, in_flight=None, next_due_ms=now_ms + timings.retry_ms)
    quiet = not (result.more or result.active_seen) and _same_position(
        capture.cursor, result.cursor
    )
    quiet_since_ms = (capture.quiet_since_ms or now_ms) if quiet else None
    return replace(
        capture,
        cursor=result.cursor,
        in_flight=None,
        next_due_ms=now_ms + _pause_ms(result, quiet_since_ms, now_ms, timings),
        quiet_since_ms=quiet_since_ms,
        active_seen=result.active_seen,
        polls=capture.polls + 1,
        requests=capture.requests + result.requests,
    )


def _same_position(before: CaptureCursor | None, after: CaptureCursor) -> bool:
    """The poll saw nothing created or completed: the cursor did not move (workflows listed
    again, as the overlaps and rechecks do, leave it where it was)."""
    if before is None:
        return False
    return (before.created_from_ms, before.created_skip, before.completed_from_ms) == (
        after.created_from_ms,
        after.created_skip,
        after.completed_from_ms,
    )


def _pause_ms(
    result: PollResult, quiet_since_ms: int | None, now_ms: int, timings: CaptureTimings
) -> int:
    """How long after ``result`` the next poll is due."""
    if result.more:
        return timings.catch_up_interval_ms
    quiet_ms = 0 if quiet_since_ms is None else now_ms - quiet_since_ms
    if quiet_ms < timings.idle_after_ms:
        return timings.interval_ms
    return max(timings.interval_ms, min(timings.idle_interval_ms, quiet_ms // IDLE_PAUSE_DIVISOR))


def _choose(live: Sequence[LiveExecutor], last: ExecutorId | None) -> LiveExecutor:
    """Stay with the last target while it lives (its pages are warm), else the first by id."""
    for executor in live:
        if executor.executor_id == last:
            return executor
    return min(live, key=lambda e: e.executor_id)


def furthest(a: CaptureCursor, b: CaptureCursor) -> CaptureCursor:
    """Each part of the cursor at its furthest: a late result never moves any part back."""
    created = max((a.created_from_ms, a.created_skip), (b.created_from_ms, b.created_skip))
    completed = max(
        (a.completed_from_ms, -a.completed_span_ms), (b.completed_from_ms, -b.completed_span_ms)
    )
    return CaptureCursor(
        created_from_ms=created[0],
        created_skip=created[1],
        completed_from_ms=completed[0],
        completed_span_ms=-completed[1],
        active_offset=a.active_offset,  # a rotation, not a position: the current one stands
    )


def advance_created(cursor: CaptureCursor, created: Sequence[int]) -> CaptureCursor:
    """The cursor after seeing ``created`` (creation times, oldest first) of one query run.

    The query listed workflows created at or after ``created_from_ms``, skipping the first
    ``created_skip`` (already seen, all created at exactly ``created_from_ms``). The next query
    starts at the newest time seen and skips every workflow seen at that exact time.
    """
    if not created:
        return cursor
    newest = created[-1]
    at_newest = sum(1 for t in created if t == newest)
    skip = at_newest + (cursor.created_skip if newest == cursor.created_from_ms else 0)
    return replace(cursor, created_from_ms=newest, created_skip=skip)


def advance_completed(cursor: CaptureCursor, completed: Sequence[int]) -> CaptureCursor:
    """The cursor after listing every completion from the cursor on (``completed``: their times,
    any order): on from the newest, in one window again."""
    newest = max(completed, default=cursor.completed_from_ms)
    return replace(
        cursor, completed_from_ms=max(newest, cursor.completed_from_ms), completed_span_ms=0
    )


def completed_window_done(cursor: CaptureCursor, end_ms: int, span_ms: int) -> CaptureCursor:
    """The cursor after listing every completion before ``end_ms`` (a window ``span_ms`` wide):
    on from there, trying a window twice as wide next."""
    return replace(
        cursor,
        completed_from_ms=max(end_ms, cursor.completed_from_ms),
        completed_span_ms=span_ms * 2,
    )


def narrower(start_ms: int, end_ms: int) -> int:
    """The span to retry with when ``[start_ms, end_ms)`` held more completions than a page
    budget: half as wide, at least one millisecond."""
    return max(1, (end_ms - start_ms) // 2)


FIRST_POLL_LOOKBACK_MS = 60_000
"""On an app's first poll the creation query walks its whole history; completions are followed
from a minute before that poll (the gateway's clock standing in for the database's)."""


def completed_query_from(cursor: CaptureCursor) -> int | None:
    """Where the completions query starts; ``None`` on the first poll (nothing to follow yet)."""
    if cursor.completed_from_ms == 0:
        return None
    return max(0, cursor.completed_from_ms - COMPLETED_OVERLAP_MS)


def next_active_offset(cursor: CaptureCursor, listed: int, page_size: int) -> CaptureCursor:
    """After listing ``listed`` active workflows from ``cursor.active_offset`` (a page and one row
    more): the next page when there is one, else back to the first."""
    offset = cursor.active_offset + page_size if listed > page_size else 0
    return replace(cursor, active_offset=offset)


def first_completed_cursor(cursor: CaptureCursor, now_ms: int) -> CaptureCursor:
    """Start following completions, if not yet started (see ``FIRST_POLL_LOOKBACK_MS``)."""
    if cursor.completed_from_ms != 0:
        return cursor
    return replace(cursor, completed_from_ms=now_ms - FIRST_POLL_LOOKBACK_MS)


def encode_cursor(cursor: CaptureCursor) -> bytes:
    return orjson.dumps(cursor)


def decode_cursor(raw: bytes) -> CaptureCursor:
    """Read a stored cursor; a malformed one restarts the capture from the beginning."""
    try:
        data = orjson.loads(raw)
        return CaptureCursor(
            created_from_ms=int(data["created_from_ms"]),
            created_skip=int(data["created_skip"]),
            completed_from_ms=int(data["completed_from_ms"]),
            completed_span_ms=int(data.get("completed_span_ms") or 0),
            active_offset=int(data.get("active_offset") or 0),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return CaptureCursor()
