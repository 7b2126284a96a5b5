"""The capture poller and its cursor arithmetic: scheduling, stickiness, retries, and a model of
DBOS ``list_workflows`` paging that must see every workflow exactly once and always terminate."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capture.cursor import (
    COMPLETED_OVERLAP_MS,
    CREATED_RECHECK_MS,
    FIRST_POLL_LOOKBACK_MS,
    AppCapture,
    CaptureTimings,
    LiveExecutor,
    advance_completed,
    advance_created,
    completed_query_from,
    completed_window_done,
    decode_cursor,
    encode_cursor,
    first_completed_cursor,
    furthest,
    narrower,
    next_active_offset,
    on_result,
    plan_poll,
    poll_due,
)
from streams.ids import AppName, CommandId, ExecutorId, GatewayId
from streams.records import CaptureCursor, PollResult, PollWorkflows

T0 = 1_700_000_000_000
APP = AppName("orders")
TIMINGS = CaptureTimings(
    interval_ms=2_000,
    idle_after_ms=300_000,
    idle_interval_ms=30_000,
    catch_up_interval_ms=100,
    timeout_ms=15_000,
    retry_ms=3_000,
    page_size=10,
    max_pages=3,
    active_every=5,
    steps_budget=4,
)
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True, slots=True, kw_only=True)
class Executor:
    """A ``LiveExecutor`` (in the worker: a record of the recovery agent's liveness view)."""

    executor_id: ExecutorId
    gateway: GatewayId


def live(*executor_ids: str, gateway: str = "gw-1") -> list[LiveExecutor]:
    return [Executor(executor_id=ExecutorId(e), gateway=GatewayId(gateway)) for e in executor_ids]


def issue(
    capture: AppCapture, now_ms: int, executors: list[LiveExecutor] | None = None
) -> tuple[AppCapture, PollWorkflows]:
    state, command = plan_poll(capture, executors or live("exec-a"), now_ms, TIMINGS)
    assert command is not None, "a poll was due"
    return state, command


def result_of(
    command: PollWorkflows | str,
    *,
    ok: bool = True,
    cursor: CaptureCursor | None = None,
    more: bool = False,
    active_seen: bool = False,
    requests: int = 3,
    error: str | None = None,
) -> PollResult:
    command_id = command if isinstance(command, str) else command.command_id
    return PollResult(
        command_id=CommandId(command_id),
        app=APP,
        gateway=GatewayId("gw-1"),
        executor_id=ExecutorId("exec-a"),
        ok=ok,
        cursor=cursor or CaptureCursor(),
        workflows_seen=7,
        requests=requests,
        more=more,
        active_seen=active_seen,
        ts_ms=T0,
        error=error,
    )


# -- plan_poll -----------------------------------------------------------------------------------


def test_nothing_is_planned_without_live_executors() -> None:
    capture = AppCapture(app=APP)
    assert plan_poll(capture, [], T0, TIMINGS) == (capture, None)


def test_the_first_poll_starts_from_the_beginning_of_the_app_history() -> None:
    state, command = issue(AppCapture(app=APP), T0, live("exec-b", "exec-a", gateway="gw-7"))
    assert command == PollWorkflows(
        command_id=command.command_id,
        app=APP,
        target=ExecutorId("exec-a"),
        target_gateway=GatewayId("gw-7"),
        cursor=CaptureCursor(),
        page_size=10,
        max_pages=3,
        check_active=True,
        steps_budget=4,
        issued_at_ms=T0,
        timeout_ms=15_000,
    )
    assert command.command_id
    assert state == AppCapture(
        app=APP,
        cursor=CaptureCursor(),
        seq=1,
        in_flight=command.command_id,
        in_flight_since_ms=T0,
        last_target=ExecutorId("exec-a"),
    )


def test_a_poll_of_a_private_app_says_so_and_is_otherwise_the_same() -> None:
    capture = AppCapture(app=APP)
    state, public = plan_poll(capture, live("exec-a"), T0, TIMINGS)
    private_state, private = plan_poll(capture, live("exec-a"), T0, TIMINGS, payloads_private=True)
    assert public is not None
    assert private is not None
    assert (public.payloads_private, private.payloads_private) == (False, True)
    assert replace(private, payloads_private=False) == public
    assert private_state == state


def test_nothing_is_planned_before_the_next_due_time() -> None:
    capture = AppCapture(app=APP, cursor=CaptureCursor(), next_due_ms=T0 + 500)
    assert plan_poll(capture, live("exec-a"), T0 + 499, TIMINGS) == (capture, None)
    assert not poll_due(capture, T0 + 499, TIMINGS)
    _, command = plan_poll(capture, live("exec-a"), T0 + 500, TIMINGS)
    assert command is not None
    assert poll_due(capture, T0 + 500, TIMINGS)


def test_one_poll_in_flight_at_a_time_and_reissued_after_its_timeout() -> None:
    state, first = issue(AppCapture(app=APP), T0)
    for now in (T0, T0 + 1, T0 + TIMINGS.timeout_ms - 1):
        assert plan_poll(state, live("exec-a"), now, TIMINGS) == (state, None)
        assert not poll_due(state, now, TIMINGS)
    assert poll_due(state, T0 + TIMINGS.timeout_ms, TIMINGS)
    again, second = issue(state, T0 + TIMINGS.timeout_ms)
    assert second.command_id != first.command_id
    assert second.cursor == first.cursor
    assert (again.seq, again.in_flight, again.in_flight_since_ms) == (
        2,
        second.command_id,
        T0 + TIMINGS.timeout_ms,
    )


def test_every_poll_gets_a_distinct_command_id() -> None:
    state = AppCapture(app=APP)
    ids = set()
    for i in range(20):
        state, command = issue(state, T0)  # same clock reading: the sequence tells them apart
        ids.add(command.command_id)
        state = on_result(state, result_of(command), T0, replace(TIMINGS, interval_ms=0))
        assert state.polls == i + 1
    assert len(ids) == 20


def test_the_target_is_sticky_while_it_lives() -> None:
    state = AppCapture(app=APP, cursor=CaptureCursor(), last_target=ExecutorId("exec-c"))
    _, command = issue(state, T0, live("exec-a", "exec-c", "exec-b"))
    assert command.target == "exec-c"


def test_a_gone_target_is_replaced_by_the_smallest_id() -> None:
    state = AppCapture(app=APP, cursor=CaptureCursor(), last_target=ExecutorId("exec-gone"))
    after, command = issue(state, T0, live("exec-c", "exec-b", "exec-d"))
    assert command.target == "exec-b"
    assert after.last_target == "exec-b"


@FAST
@given(
    st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=6, unique=True),
    st.none() | st.text(min_size=1, max_size=6),
)
def test_target_is_the_last_one_if_live_else_the_smallest(
    executor_ids: list[str], last: str | None
) -> None:
    state = AppCapture(
        app=APP, cursor=CaptureCursor(), last_target=None if last is None else ExecutorId(last)
    )
    _, command = issue(state, T0, live(*executor_ids))
    assert command.target == (last if last in executor_ids else min(executor_ids))


def test_active_statuses_are_refreshed_every_poll_while_some_are_active() -> None:
    state = AppCapture(app=APP)
    flags = []
    for i in range(8):
        state, command = issue(state, T0 + i * 10_000)
        flags.append(command.check_active)
        state = on_result(state, result_of(command, active_seen=True), T0 + i * 10_000, TIMINGS)
    assert flags == [True] * 8


def test_without_active_workflows_active_statuses_are_refreshed_every_active_every_polls() -> None:
    state = AppCapture(app=APP)
    flags = []
    for i in range(12):
        state, command = issue(state, T0 + i * 10_000)
        flags.append((command.check_active, state.seq))
        state = on_result(state, result_of(command, active_seen=False), T0 + i * 10_000, TIMINGS)
    # The first poll checks (nothing known yet); then only every fifth poll of the sequence.
    assert [seq for check, seq in flags if check] == [1, 5, 10]


def test_recent_creations_are_rechecked_every_active_every_polls() -> None:
    state = AppCapture(app=APP)
    rechecked = []
    for i in range(12):
        state, command = issue(state, T0 + i * 10_000)
        if command.recheck_created:
            rechecked.append(state.seq)
        state = on_result(state, result_of(command, active_seen=True), T0 + i * 10_000, TIMINGS)
    assert rechecked == [5, 10]
    # Between two rechecks the cursor may move on for active_every intervals: the window covers it.
    assert TIMINGS.active_every * TIMINGS.interval_ms < CREATED_RECHECK_MS


def test_an_active_workflow_seen_again_restores_checking_every_poll() -> None:
    state = AppCapture(app=APP, cursor=CaptureCursor(), active_seen=False, seq=1)
    state, command = issue(state, T0)
    assert not command.check_active
    state = on_result(state, result_of(command, active_seen=True), T0, TIMINGS)
    _, command = issue(state, T0 + TIMINGS.interval_ms)
    assert command.check_active


# -- on_result -----------------------------------------------------------------------------------


def test_a_result_advances_the_cursor_and_schedules_the_next_poll_after_the_interval() -> None:
    state, command = issue(AppCapture(app=APP), T0)
    advanced = CaptureCursor(created_from_ms=T0 - 5, created_skip=2, completed_from_ms=T0 - 9)
    after = on_result(
        state, result_of(command, cursor=advanced, requests=4, active_seen=True), T0 + 40, TIMINGS
    )
    assert after == replace(
        state,
        cursor=advanced,
        in_flight=None,
        next_due_ms=T0 + 40 + TIMINGS.interval_ms,
        active_seen=True,
        polls=1,
        requests=4,
    )
    assert plan_poll(after, live("exec-a"), T0 + 40 + TIMINGS.interval_ms - 1, TIMINGS)[1] is None
    _, following = issue(after, T0 + 40 + TIMINGS.interval_ms)
    assert following.cursor == advanced


def quiet_polls(state: AppCapture, start_ms: int, until_ms: int) -> tuple[AppCapture, int]:
    """Polls as soon as due from ``start_ms`` to ``until_ms``, each seeing nothing new."""
    now = start_ms
    while now < until_ms:
        state, command = issue(state, now)
        state = on_result(state, result_of(command, cursor=state.cursor), now, TIMINGS)
        now = state.next_due_ms
    return state, now


def test_an_app_whose_polls_see_nothing_new_for_a_while_is_polled_at_the_idle_interval() -> None:
    state, command = issue(AppCapture(app=APP), T0)
    state = on_result(
        state, result_of(command, cursor=CaptureCursor(created_from_ms=5)), T0, TIMINGS
    )
    assert state.next_due_ms == T0 + TIMINGS.interval_ms  # the cursor moved: not quiet
    quiet_from = state.next_due_ms
    state, now = quiet_polls(state, quiet_from, quiet_from + TIMINGS.idle_after_ms)
    assert state.quiet_since_ms == quiet_from
    assert now == quiet_from + TIMINGS.idle_after_ms  # every interval until then
    state, command = issue(state, now)
    state = on_result(state, result_of(command, cursor=state.cursor), now, TIMINGS)
    assert state.next_due_ms == now + TIMINGS.idle_interval_ms


def test_an_idle_apps_pause_grows_with_its_quiet_up_to_the_idle_interval() -> None:
    timings = replace(TIMINGS, idle_after_ms=60_000, idle_interval_ms=30_000)
    state, command = issue(AppCapture(app=APP), T0)
    state = on_result(
        state, result_of(command, cursor=CaptureCursor(created_from_ms=5)), T0, timings
    )
    quiet_from = state.next_due_ms
    pauses: list[tuple[int, int]] = []
    now = quiet_from
    while now < quiet_from + 600_000:
        state, command = issue(state, now)
        state = on_result(state, result_of(command, cursor=state.cursor), now, timings)
        pauses.append((now - quiet_from, state.next_due_ms - now))
        now = state.next_due_ms
    assert all(p == timings.interval_ms for q, p in pauses if q < timings.idle_after_ms)
    after_a_minute = [p for q, p in pauses if q >= timings.idle_after_ms]
    assert after_a_minute[0] == 6_000  # a tenth of a quiet minute
    assert after_a_minute == sorted(after_a_minute)  # never shrinks while quiet
    assert max(after_a_minute) == timings.idle_interval_ms  # and stops growing at the cap
    assert all(p == timings.idle_interval_ms for q, p in pauses if q >= 300_000)


def test_an_idle_app_is_polled_at_the_interval_again_once_a_poll_sees_something() -> None:
    state, command = issue(AppCapture(app=APP), T0)
    state = on_result(
        state, result_of(command, cursor=CaptureCursor(created_from_ms=5)), T0, TIMINGS
    )
    state, now = quiet_polls(state, state.next_due_ms, T0 + 2 * TIMINGS.idle_after_ms)
    assert state.next_due_ms == now
    assert now - state.in_flight_since_ms == TIMINGS.idle_interval_ms
    for seen in (
        {"cursor": CaptureCursor(created_from_ms=9)},  # created
        {"cursor": replace(state.cursor or CaptureCursor(), completed_from_ms=T0)},  # completed
        {"cursor": state.cursor, "active_seen": True},  # running
        {"cursor": state.cursor, "more": True},  # a page limit hit
    ):
        busy, command = issue(state, now)
        busy = on_result(busy, result_of(command, **seen), now, TIMINGS)
        assert busy.quiet_since_ms is None
        assert busy.next_due_ms - now in (TIMINGS.interval_ms, TIMINGS.catch_up_interval_ms)


def test_a_result_with_more_to_read_schedules_a_catch_up_poll() -> None:
    state, command = issue(AppCapture(app=APP), T0)
    after = on_result(state, result_of(command, more=True), T0 + 40, TIMINGS)
    assert after.next_due_ms == T0 + 40 + TIMINGS.catch_up_interval_ms


def test_requests_accumulate_over_polls() -> None:
    state = AppCapture(app=APP)
    for i, cost in enumerate([3, 5, 1]):
        state, command = issue(state, T0 + i * 10_000)
        state = on_result(state, result_of(command, requests=cost), T0 + i * 10_000, TIMINGS)
    assert (state.polls, state.requests) == (3, 9)


def test_a_failed_poll_keeps_the_cursor_and_retries_after_retry_ms() -> None:
    cursor = CaptureCursor(created_from_ms=T0 - 100, created_skip=1, completed_from_ms=T0 - 50)
    state, command = issue(AppCapture(app=APP, cursor=cursor), T0)
    failed = result_of(
        command, ok=False, cursor=CaptureCursor(created_from_ms=T0 + 999), error="boom"
    )
    after = on_result(state, failed, T0 + 10, TIMINGS)
    assert after == replace(state, in_flight=None, next_due_ms=T0 + 10 + TIMINGS.retry_ms)
    assert plan_poll(after, live("exec-a"), T0 + 10 + TIMINGS.retry_ms - 1, TIMINGS)[1] is None
    _, retry = issue(after, T0 + 10 + TIMINGS.retry_ms)
    assert retry.cursor == cursor


def test_a_stale_result_that_is_further_along_moves_the_cursor_forward_only() -> None:
    cursor = CaptureCursor(created_from_ms=T0, created_skip=1, completed_from_ms=T0)
    state, _ = issue(AppCapture(app=APP, cursor=cursor), T0)
    ahead = CaptureCursor(created_from_ms=T0 + 10, created_skip=1, completed_from_ms=T0 + 10)
    after = on_result(state, result_of("poll:orders:old:1", cursor=ahead), T0 + 5, TIMINGS)
    # The poll in flight stays in flight, and nothing is rescheduled or counted.
    assert after == replace(state, cursor=ahead)


@pytest.mark.parametrize(
    "stale",
    [
        result_of("other", cursor=CaptureCursor(created_from_ms=T0 - 1, completed_from_ms=T0)),
        result_of("other", cursor=CaptureCursor(created_from_ms=T0, completed_from_ms=T0)),
        result_of("other", ok=False, cursor=CaptureCursor(created_from_ms=T0 + 99)),
    ],
    ids=["behind", "equal", "failed"],
)
def test_a_stale_result_that_is_not_further_along_changes_nothing(stale: PollResult) -> None:
    cursor = CaptureCursor(created_from_ms=T0, created_skip=0, completed_from_ms=T0)
    state, _ = issue(AppCapture(app=APP, cursor=cursor), T0)
    assert on_result(state, stale, T0 + 5, TIMINGS) == state


def test_a_result_before_any_poll_changes_nothing() -> None:
    capture = AppCapture(app=APP)
    stale = result_of("poll:orders:1:1", cursor=CaptureCursor(created_from_ms=T0))
    assert on_result(capture, stale, T0, TIMINGS) == capture


def test_a_stale_result_never_moves_any_part_of_the_cursor_backward() -> None:
    cursor = CaptureCursor(created_from_ms=T0, created_skip=0, completed_from_ms=T0 + 5_000)
    state, _ = issue(AppCapture(app=APP, cursor=cursor), T0)
    mixed = CaptureCursor(created_from_ms=T0 + 10, created_skip=1, completed_from_ms=T0)
    after = on_result(state, result_of("stale", cursor=mixed), T0 + 5, TIMINGS)
    assert after.cursor is not None
    assert after.cursor.created_from_ms >= cursor.created_from_ms
    assert after.cursor.completed_from_ms >= cursor.completed_from_ms


def test_a_stale_result_never_narrows_or_widens_the_span_of_another_completion_cursor() -> None:
    cursor = CaptureCursor(
        created_from_ms=T0, created_skip=2, completed_from_ms=T0 + 5_000, completed_span_ms=800
    )
    state, _ = issue(AppCapture(app=APP, cursor=cursor), T0)
    # Behind on completions: its span belongs to a position already passed, so it is ignored.
    behind = replace(cursor, completed_from_ms=T0 + 4_000, completed_span_ms=100)
    assert on_result(state, result_of("stale", cursor=behind), T0 + 5, TIMINGS) == state
    # Ahead on completions: the position moves on, and its span comes with it.
    ahead = replace(cursor, completed_from_ms=T0 + 6_000, completed_span_ms=1_600)
    after = on_result(state, result_of("stale", cursor=ahead), T0 + 5, TIMINGS)
    assert after == replace(state, cursor=ahead)
    # At the same position, a wider span than the one learned since is not taken.
    wider = replace(cursor, completed_span_ms=3_200)
    assert on_result(state, result_of("stale", cursor=wider), T0 + 5, TIMINGS) == state


# -- advance_created -----------------------------------------------------------------------------


def test_advance_created_with_nothing_seen_keeps_the_cursor() -> None:
    cursor = CaptureCursor(created_from_ms=T0, created_skip=3, completed_from_ms=T0 + 1)
    assert advance_created(cursor, []) == cursor


def test_advance_created_moves_to_the_newest_time_and_counts_the_ties_there() -> None:
    cursor = CaptureCursor(created_from_ms=T0, created_skip=0, completed_from_ms=T0 + 7)
    assert advance_created(cursor, [T0, T0 + 1, T0 + 4, T0 + 4]) == CaptureCursor(
        created_from_ms=T0 + 4, created_skip=2, completed_from_ms=T0 + 7
    )


def test_advance_created_accumulates_the_skip_when_a_whole_page_sits_on_one_ms() -> None:
    cursor = CaptureCursor(created_from_ms=T0, created_skip=0)
    cursor = advance_created(cursor, [T0, T0, T0])
    assert (cursor.created_from_ms, cursor.created_skip) == (T0, 3)
    cursor = advance_created(cursor, [T0, T0, T0])  # the query skipped 3 and found 3 more
    assert (cursor.created_from_ms, cursor.created_skip) == (T0, 6)


def test_advance_created_resets_the_skip_when_newer_times_appear() -> None:
    cursor = CaptureCursor(created_from_ms=T0, created_skip=6)
    cursor = advance_created(cursor, [T0, T0 + 1])
    assert (cursor.created_from_ms, cursor.created_skip) == (T0 + 1, 1)
    cursor = advance_created(cursor, [T0 + 1, T0 + 1, T0 + 2, T0 + 2, T0 + 2])
    assert (cursor.created_from_ms, cursor.created_skip) == (T0 + 2, 3)


def _dbos_list(rows: list[tuple[int, int]], start_ms: int, offset: int, limit: int) -> list[int]:
    """DBOS ``list_workflows`` over ``(created_at, row id)`` rows: ``created_at >= start``,
    ascending by creation time (ties in insertion order), then ``OFFSET`` and ``LIMIT``."""
    matching = sorted((r for r in rows if r[0] >= start_ms), key=lambda r: r[0])
    return [row_id for _, row_id in matching[offset : offset + limit]]


@FAST
@given(
    st.lists(st.lists(st.integers(0, 6), max_size=30), min_size=1, max_size=5),
    st.integers(1, 7),
    st.integers(1, 4),
)
def test_repeated_polls_see_every_workflow_exactly_once_and_end(
    batches: list[list[int]], page_size: int, max_pages: int
) -> None:
    """Batches of workflows arrive between polls (creation times never go back, ties are many);
    each poll pages through the creation query as the gateway does, until a short page."""
    rows: list[tuple[int, int]] = []
    created_at: dict[int, int] = {}
    seen: list[int] = []
    cursor = CaptureCursor()
    clock = 0
    polls = 0
    for batch in batches:
        for step in sorted(batch):
            row_id = len(rows)
            rows.append((clock + step, row_id))
            created_at[row_id] = clock + step
        clock = max(t for t, _ in rows) if rows else clock
        unseen = len(rows) - len(seen)
        budget = unseen // (page_size * max_pages) + 1
        for _ in range(budget):  # a poll that must end the catch-up within the budget
            polls += 1
            more = True
            for _ in range(max_pages):
                page = _dbos_list(rows, cursor.created_from_ms, cursor.created_skip, page_size)
                seen.extend(page)
                cursor = advance_created(cursor, [created_at[r] for r in page])
                if len(page) < page_size:
                    more = False
                    break
            if not more:
                break
        else:
            pytest.fail(f"still catching up after {budget} polls ({unseen} to see)")
    assert sorted(seen) == list(range(len(rows)))  # every workflow, and each exactly once
    assert polls <= len(batches) + len(rows) // page_size


# -- completions ---------------------------------------------------------------------------------


def test_advance_completed_moves_to_the_newest_completion_and_never_back() -> None:
    cursor = CaptureCursor(created_from_ms=1, created_skip=2, completed_from_ms=T0)
    assert advance_completed(cursor, []) == cursor
    assert advance_completed(cursor, [T0 - 5, T0 - 1]) == cursor
    assert advance_completed(cursor, [T0 + 3, T0 - 1, T0 + 9, T0]) == replace(
        cursor, completed_from_ms=T0 + 9
    )


def test_completed_query_from_overlaps_and_waits_for_the_first_poll() -> None:
    assert completed_query_from(CaptureCursor()) is None
    assert completed_query_from(CaptureCursor(completed_from_ms=T0)) == T0 - COMPLETED_OVERLAP_MS
    assert completed_query_from(CaptureCursor(completed_from_ms=COMPLETED_OVERLAP_MS - 1)) == 0


def test_first_completed_cursor_starts_a_minute_before_the_first_poll_once() -> None:
    cursor = CaptureCursor(created_from_ms=5, created_skip=1)
    started = first_completed_cursor(cursor, T0)
    assert started == replace(cursor, completed_from_ms=T0 - FIRST_POLL_LOOKBACK_MS)
    assert first_completed_cursor(started, T0 + 99_999) == started
    assert completed_query_from(started) == T0 - FIRST_POLL_LOOKBACK_MS - COMPLETED_OVERLAP_MS


def test_a_listed_window_moves_the_cursor_to_its_end_and_doubles_the_span() -> None:
    cursor = CaptureCursor(
        created_from_ms=T0 - 9, created_skip=4, completed_from_ms=T0, completed_span_ms=250
    )
    assert completed_window_done(cursor, T0 + 250, 250) == CaptureCursor(
        created_from_ms=T0 - 9, created_skip=4, completed_from_ms=T0 + 250, completed_span_ms=500
    )
    # The span that was listed counts, not the one the cursor held.
    assert completed_window_done(cursor, T0 + 1, 1).completed_span_ms == 2


def test_a_listed_window_inside_the_overlap_never_moves_the_cursor_back() -> None:
    cursor = CaptureCursor(completed_from_ms=T0, completed_span_ms=100)
    start = completed_query_from(cursor)
    assert start == T0 - COMPLETED_OVERLAP_MS
    done = completed_window_done(cursor, start + 100, 100)
    assert done == CaptureCursor(completed_from_ms=T0, completed_span_ms=200)


@pytest.mark.parametrize(
    ("start", "end", "span"),
    [
        (T0, T0 + 1_000, 500),
        (T0, T0 + 1_001, 500),
        (T0, T0 + 4, 2),
        (T0, T0 + 3, 1),
        (T0, T0 + 2, 1),
        (T0, T0 + 1, 1),  # never below one millisecond...
        (T0, T0, 1),  # ...even for a window with nothing left to halve
    ],
)
def test_narrower_halves_the_window_down_to_one_millisecond(
    start: int, end: int, span: int
) -> None:
    assert narrower(start, end) == span


@FAST
@given(st.integers(0, 2**45), st.integers(0, 2**45))
def test_narrower_is_positive_and_never_wider_than_the_window(start: int, width: int) -> None:
    span = narrower(start, start + width)
    assert span >= 1
    assert span <= max(1, width)
    assert span < width or width <= 1


def test_furthest_takes_the_later_creation_position_skip_and_all() -> None:
    a = CaptureCursor(created_from_ms=T0, created_skip=5, completed_from_ms=T0)
    b = CaptureCursor(created_from_ms=T0 + 1, created_skip=0, completed_from_ms=T0)
    c = CaptureCursor(created_from_ms=T0, created_skip=7, completed_from_ms=T0)
    assert (furthest(a, b).created_from_ms, furthest(a, b).created_skip) == (T0 + 1, 0)
    assert (furthest(a, c).created_from_ms, furthest(a, c).created_skip) == (T0, 7)


def test_furthest_takes_the_later_completion_position_with_its_own_span() -> None:
    near = CaptureCursor(created_from_ms=T0 + 50, completed_from_ms=T0, completed_span_ms=64)
    far = CaptureCursor(created_from_ms=T0, completed_from_ms=T0 + 10, completed_span_ms=2_048)
    both = furthest(near, far)
    # Each part at its furthest, even when they come from different cursors.
    assert both == CaptureCursor(
        created_from_ms=T0 + 50, completed_from_ms=T0 + 10, completed_span_ms=2_048
    )
    # At the same completion position the narrower span (learned from a full window) stays.
    wide = replace(near, completed_span_ms=512)
    assert furthest(near, wide).completed_span_ms == 64
    assert furthest(wide, near).completed_span_ms == 64


cursors = st.builds(
    CaptureCursor,
    created_from_ms=st.integers(0, 50),
    created_skip=st.integers(0, 5),
    completed_from_ms=st.integers(0, 50),
    completed_span_ms=st.integers(1, 64),  # windows; 0 (one open window) is not compared here
)


@FAST
@given(cursors, cursors)
def test_furthest_never_moves_any_part_back(a: CaptureCursor, b: CaptureCursor) -> None:
    both = furthest(a, b)
    assert both == furthest(b, a)
    assert furthest(both, a) == both == furthest(both, b)
    for cursor in (a, b):
        created = (both.created_from_ms, both.created_skip)
        assert created >= (cursor.created_from_ms, cursor.created_skip)
        assert both.completed_from_ms >= cursor.completed_from_ms
    # The span is one of the two, and belongs to the completion position it came with.
    assert (both.completed_from_ms, both.completed_span_ms) in {
        (a.completed_from_ms, a.completed_span_ms),
        (b.completed_from_ms, b.completed_span_ms),
    }
    if a.completed_from_ms == b.completed_from_ms:
        assert both.completed_span_ms == min(a.completed_span_ms, b.completed_span_ms)


# -- stored cursor -------------------------------------------------------------------------------


@FAST
@given(st.integers(0, 2**53), st.integers(0, 10**6), st.integers(0, 2**53), st.integers(0, 2**40))
def test_cursor_round_trips(created: int, skip: int, completed: int, span: int) -> None:
    cursor = CaptureCursor(
        created_from_ms=created,
        created_skip=skip,
        completed_from_ms=completed,
        completed_span_ms=span,
    )
    assert decode_cursor(encode_cursor(cursor)) == cursor


def test_a_cursor_stored_before_spans_existed_reads_as_one_open_window() -> None:
    raw = b'{"created_from_ms": 1, "created_skip": 2, "completed_from_ms": 3}'
    assert decode_cursor(raw) == CaptureCursor(
        created_from_ms=1, created_skip=2, completed_from_ms=3, completed_span_ms=0
    )


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b"null",
        b"[]",
        b"42",
        b'"created_from_ms"',
        b"{}",
        b'{"created_from_ms": 1, "created_skip": 0}',
        b'{"created_from_ms": "soon", "created_skip": 0, "completed_from_ms": 0}',
        b'{"created_from_ms": null, "created_skip": 0, "completed_from_ms": 0}',
        b'{"created_from_ms": [1], "created_skip": 0, "completed_from_ms": 0}',
        b"1e400",
    ],
)
def test_a_malformed_stored_cursor_restarts_from_the_beginning(raw: bytes) -> None:
    assert decode_cursor(raw) == CaptureCursor()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


@FAST
@given(st.binary(max_size=100))
def test_decode_cursor_never_raises_on_bytes(raw: bytes) -> None:
    assert isinstance(decode_cursor(raw), CaptureCursor)


@FAST
@given(
    st.dictionaries(
        st.sampled_from(["created_from_ms", "created_skip", "completed_from_ms"])
        | st.text(max_size=5),
        json_values,
    )
)
def test_decode_cursor_never_raises_on_json(value: dict[str, object]) -> None:
    assert isinstance(decode_cursor(json.dumps(value).encode()), CaptureCursor)


def test_encode_cursor_is_plain_json() -> None:
    cursor = CaptureCursor(
        created_from_ms=1, created_skip=2, completed_from_ms=3, completed_span_ms=4
    )
    assert orjson.loads(encode_cursor(cursor)) == {
        "created_from_ms": 1,
        "created_skip": 2,
        "completed_from_ms": 3,
        "completed_span_ms": 4,
        "active_offset": 0,
    }
    assert decode_cursor(encode_cursor(cursor)) == cursor


def test_next_active_offset_moves_to_the_next_page_while_there_is_one() -> None:
    cursor = CaptureCursor(active_offset=0)
    assert next_active_offset(cursor, listed=3, page_size=2).active_offset == 2
    assert next_active_offset(replace(cursor, active_offset=2), 3, 2).active_offset == 4
    assert next_active_offset(replace(cursor, active_offset=4), 1, 2).active_offset == 0
    assert next_active_offset(cursor, listed=2, page_size=2).active_offset == 0
    assert next_active_offset(cursor, listed=0, page_size=2).active_offset == 0
