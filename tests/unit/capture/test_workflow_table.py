"""The workflow table's fold: what is news (latest wins by DBOS ``updated_at``, then by what a
record adds), the compact mark it keeps, and that folding any order of repeats converges."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capture.workflow_table import WorkflowMark, decode_mark, encode_mark, is_news, mark_of, take
from streams.ids import AppName, WorkflowId
from streams.records import WorkflowStatus

T0 = 1_700_000_000_000
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def status(
    state: str = "PENDING", updated_at: int | None = T0, observed_at: int = T0, **kwargs: Any
) -> WorkflowStatus:
    return WorkflowStatus(
        app=AppName("orders"),
        workflow_id=WorkflowId("wf-1"),
        status=state,
        observed_at_ms=observed_at,
        updated_at_ms=updated_at,
        executor_id=kwargs.pop("executor_id", "exec-a"),
        **kwargs,
    )


def test_the_first_status_of_a_workflow_is_news() -> None:
    assert is_news(None, status())
    assert is_news(None, status(updated_at=None))


def test_a_newer_status_is_news() -> None:
    mark = mark_of(status(has_input=True, has_output=True))
    assert is_news(mark, status("SUCCESS", updated_at=T0 + 1))
    assert is_news(mark, status(updated_at=T0 + 1))  # same fields, newer version


@pytest.mark.parametrize(
    "older",
    [
        status("SUCCESS", updated_at=T0 - 1),
        status(updated_at=T0 - 1, has_input=True, has_output=True),
        status(updated_at=T0 - 1, executor_id="exec-b", queue_name="q"),
        status(updated_at=None),
    ],
    ids=["other status", "with payloads", "other executor and queue", "no updated_at"],
)
def test_an_older_status_is_never_news(older: WorkflowStatus) -> None:
    assert not is_news(mark_of(status()), older)


def test_the_same_version_without_payloads_is_not_news() -> None:
    mark = mark_of(status(has_input=True, has_output=True))
    assert not is_news(mark, status())
    assert not is_news(mark, status(has_input=True))
    assert not is_news(mark, status(has_input=True, has_output=True))
    assert not is_news(mark, status(observed_at=T0 + 60_000))  # observed later: same facts


@pytest.mark.parametrize(
    "with_payload",
    [status(has_input=True), status(has_output=True), status(has_input=True, has_output=True)],
    ids=["input", "output", "both"],
)
def test_the_same_version_with_a_payload_not_yet_taken_is_news(
    with_payload: WorkflowStatus,
) -> None:
    assert is_news(mark_of(status()), with_payload)


@pytest.mark.parametrize(
    "other",
    [
        status("SUCCESS"),
        status(executor_id="exec-b"),
        status(executor_id=None),
        status(queue_name="q"),
    ],
    ids=["status", "executor", "no executor", "queue"],
)
def test_a_different_status_at_the_same_updated_at_is_news(other: WorkflowStatus) -> None:
    assert is_news(mark_of(status()), other)


def test_mark_of_takes_the_version_of_the_record() -> None:
    record = status("ENQUEUED", updated_at=T0 + 3, queue_name="q", has_input=True)
    assert mark_of(record) == WorkflowMark(
        status="ENQUEUED",
        updated_at_ms=T0 + 3,
        executor_id="exec-a",
        queue_name="q",
        has_input=True,
        has_output=False,
    )
    assert mark_of(status(updated_at=None)).updated_at_ms == 0


def test_mark_of_accumulates_payload_flags_for_the_same_version() -> None:
    mark = mark_of(status(has_input=True))
    mark = mark_of(status(has_output=True), mark)
    assert (mark.has_input, mark.has_output) == (True, True)
    mark = mark_of(status(), mark)
    assert (mark.has_input, mark.has_output) == (True, True)


def test_mark_of_does_not_carry_payload_flags_to_another_version() -> None:
    mark = mark_of(status(has_input=True, has_output=True))
    newer = mark_of(status("SUCCESS", updated_at=T0 + 1), mark)
    assert (newer.has_input, newer.has_output) == (False, False)
    other_executor = mark_of(status(executor_id="exec-b"), mark)
    assert (other_executor.has_input, other_executor.has_output) == (False, False)


def test_mark_round_trips_and_a_malformed_one_counts_as_absent() -> None:
    mark = mark_of(status(queue_name="q", has_output=True))
    assert decode_mark(encode_mark(mark)) == mark
    bare = mark_of(status(executor_id=None))
    assert decode_mark(encode_mark(bare)) == bare
    for raw in [None, b"", b"nope", b"[]", b"{}", b'{"status": "X"}', b"\xff"]:
        assert decode_mark(raw) is None


@FAST
@given(st.binary(max_size=80))
def test_decode_mark_never_raises(raw: bytes) -> None:
    decode_mark(raw)


# -- the fold ------------------------------------------------------------------------------------

STATES = ["PENDING", "ENQUEUED", "SUCCESS", "ERROR", "CANCELLED"]


@st.composite
def histories(draw: st.DrawFn) -> list[WorkflowStatus]:
    """One workflow's captured statuses, repeated and shuffled: each ``updated_at`` is one DBOS
    version (its fields fixed), polled several times with or without payloads."""
    versions = draw(st.lists(st.integers(0, 50), min_size=1, max_size=6, unique=True))
    records = []
    for updated in versions:
        state = STATES[updated % len(STATES)]
        executor = f"exec-{updated % 3}"
        for _ in range(draw(st.integers(1, 4))):
            records.append(
                status(
                    state,
                    updated_at=T0 + updated,
                    observed_at=T0 + draw(st.integers(0, 1_000)),
                    executor_id=executor,
                    has_input=draw(st.booleans()),
                    has_output=draw(st.booleans()),
                )
            )
    order = draw(st.randoms(use_true_random=False))
    order.shuffle(records)
    return records


def fold(records: list[WorkflowStatus]) -> tuple[WorkflowMark | None, int]:
    mark: WorkflowMark | None = None
    news = 0
    for record in records:
        if is_news(mark, record):
            mark = mark_of(record, mark)
            news += 1
    return mark, news


@FAST
@given(histories())
def test_folding_any_order_ends_with_the_mark_of_the_latest_version(
    records: list[WorkflowStatus],
) -> None:
    mark, news = fold(records)
    latest = max(r.updated_at_ms or 0 for r in records)
    of_latest = [r for r in records if r.updated_at_ms == latest]
    assert mark == replace(
        mark_of(of_latest[0]),
        has_input=any(r.has_input for r in of_latest),
        has_output=any(r.has_output for r in of_latest),
    )
    # At most: each version once, plus each of its two payloads arriving late.
    assert news <= 3 * len({r.updated_at_ms for r in records})


@FAST
@given(histories(), st.randoms(use_true_random=False))
def test_the_fold_does_not_depend_on_order_or_repeats(
    records: list[WorkflowStatus], rnd: random.Random
) -> None:
    again = records + rnd.sample(records, k=len(records) // 2)
    rnd.shuffle(again)
    assert fold(again)[0] == fold(records)[0]


@FAST
@given(histories())
def test_a_record_just_taken_is_not_news_again(records: list[WorkflowStatus]) -> None:
    mark: WorkflowMark | None = None
    for record in records:
        if is_news(mark, record):
            mark = mark_of(record, mark)
            assert not is_news(mark, record)


def test_take_keeps_a_mark_for_an_active_workflow() -> None:
    news, kept = take(None, status("PENDING", 10))
    assert news
    assert kept == mark_of(status("PENDING", 10))


def test_take_drops_the_mark_once_the_workflow_finished() -> None:
    pending = mark_of(status("PENDING", 10))
    news, kept = take(pending, status("SUCCESS", 20))
    assert news
    assert kept is None


def test_take_leaves_the_mark_alone_when_nothing_is_new() -> None:
    pending = mark_of(status("PENDING", 10))
    assert take(pending, status("PENDING", 10)) == (False, pending)
    assert take(pending, status("PENDING", 5)) == (False, pending)


def test_a_finished_status_seen_again_is_news_again() -> None:
    """The table forgets finished workflows; the store's latest-wins upsert absorbs repeats."""
    _, kept = take(mark_of(status("PENDING", 10)), status("SUCCESS", 20))
    assert take(kept, status("SUCCESS", 20)) == (True, None)
