"""``gateway.publish_watch``: Kafka counts as unwritable once a publish has failed, or hung, for
``stall_ms``, and as writable again at the first publish that succeeds."""

from __future__ import annotations

import pytest

from gateway.publish_watch import PublishWatch


def test_publishes_that_succeed_make_no_problem() -> None:
    watch = PublishWatch(stall_ms=1_000)
    for now_ms in range(0, 10_000, 500):
        watch.succeeded(watch.began(now_ms), now_ms)
    assert watch.unwritable_ms(10_000) == 0
    assert watch.problem(10_000) is None


def test_a_hanging_publish_is_a_problem_once_it_is_older_than_the_stall() -> None:
    watch = PublishWatch(stall_ms=1_000)
    hanging = watch.began(0)
    watch.succeeded(watch.began(100), 150)  # a later one succeeding does not hide the hanging one
    assert watch.problem(999) is None
    assert watch.problem(1_000) == "writes to Kafka failing or stalled for 1.0 s"
    watch.succeeded(hanging, 4_000)
    assert watch.problem(5_000) is None


def test_failures_count_from_the_first_one_until_a_publish_succeeds() -> None:
    watch = PublishWatch(stall_ms=1_000)
    watch.failed(watch.began(0), 200)  # began at 0: unwritable since then
    watch.failed(watch.began(600), 700)
    assert watch.unwritable_ms(900) == 900
    assert watch.problem(1_500) is not None
    watch.succeeded(watch.began(1_600), 1_650)
    assert watch.unwritable_ms(1_700) == 0


def test_an_abandoned_publish_says_nothing() -> None:
    watch = PublishWatch(stall_ms=1_000)
    watch.abandoned(watch.began(0))
    assert watch.problem(60_000) is None


def test_outcomes_of_unknown_tokens_change_nothing_they_should_not() -> None:
    watch = PublishWatch(stall_ms=1_000)
    watch.succeeded(42, 0)
    watch.abandoned(43)
    assert watch.problem(10_000) is None
    watch.failed(44, 5_000)  # unknown: a failure all the same, since the last success (0)
    assert watch.unwritable_ms(5_500) == 5_500


@pytest.mark.parametrize("stall_ms", [0, -1])
def test_a_stall_must_be_positive(stall_ms: int) -> None:
    with pytest.raises(ValueError, match="stall_ms must be positive"):
        PublishWatch(stall_ms=stall_ms)


def test_old_failures_without_new_attempts_are_no_evidence() -> None:
    """A pod that shed its sessions stops publishing: after ``2 * stall_ms`` without a publish,
    its last failures no longer keep it cut off (it takes executors again, and sheds them again
    if their heartbeats fail)."""
    watch = PublishWatch(stall_ms=1_000)
    watch.failed(watch.began(0), 500)
    assert watch.problem(2_400) is not None
    assert watch.problem(2_500) is None
    hanging = watch.began(3_000)  # an attempt again: counted afresh
    assert watch.unwritable_ms(3_100) == 100
    watch.failed(hanging, 3_200)
    assert watch.unwritable_ms(3_300) == 300


def test_trouble_counts_from_the_last_publish_that_got_through() -> None:
    """What the workers last heard from the pod is as old as its last successful publish: a
    heartbeat hanging for 1 s, 2 s after the last one went through, is 3 s of silence."""
    watch = PublishWatch(stall_ms=3_000)
    watch.succeeded(watch.began(0), 10)
    assert watch.unwritable_ms(2_000) == 0  # nothing hangs: all is well
    watch.began(2_000)
    assert watch.unwritable_ms(2_500) == 2_490
    assert watch.problem(3_010) == "writes to Kafka failing or stalled for 3.0 s"
