"""``LogThrottle``: one log line per key per window, a count of the rest, bounded memory."""

from __future__ import annotations

from runtime.log_throttle import LogThrottle, Repeats


def test_refusal_logged_once_per_key_per_window() -> None:
    log = LogThrottle()
    t0 = 1_700_000_000_000
    assert log.should_log("fp-a", t0) is True
    assert log.should_log("fp-a", t0 + 1_000) is False
    assert log.should_log("fp-a", t0 + 59_999) is False
    assert log.should_log("fp-a", t0 + 60_000) is True
    assert log.should_log("fp-a", t0 + 60_001) is False
    assert log.should_log("fp-a", t0 + 120_000) is True


def test_refusal_log_keys_are_independent() -> None:
    log = LogThrottle()
    t0 = 1_700_000_000_000
    assert log.should_log("fp-a", t0) is True
    assert log.should_log("fp-b", t0 + 1) is True
    assert log.should_log("fp-a", t0 + 2) is False
    assert log.should_log("fp-b", t0 + 3) is False
    assert log.should_log("fp-c", t0 + 4) is True


def test_refusal_log_window_is_configurable() -> None:
    log = LogThrottle(window_ms=10)
    assert log.should_log("k", 0) is True
    assert log.should_log("k", 9) is False
    assert log.should_log("k", 10) is True


def test_refusal_log_memory_is_bounded() -> None:
    log = LogThrottle(max_keys=3)
    for i in range(10):
        assert log.should_log(f"k{i}", 0) is True
    # the table was cleared on overflow rather than growing without bound
    assert len(log._last_logged) <= 3


def test_refusals_retried_every_second_for_ten_minutes_log_ten_times() -> None:
    log = LogThrottle()
    logged = sum(log.should_log("fp", t * 1_000) for t in range(600))
    assert logged == 10


def test_held_back_occurrences_are_counted_and_due_after_the_window() -> None:
    log = LogThrottle(window_ms=1_000)
    assert log.should_log("k", 0) is True
    for t in range(1, 6):
        assert log.should_log("k", t * 100) is False
    assert log.due(999) == []
    assert log.due(1_000) == [Repeats(key="k", count=5, span_ms=1_000)]
    assert log.due(1_001) == [], "a summary is handed out once"


def test_a_summary_starts_the_next_window() -> None:
    log = LogThrottle(window_ms=1_000)
    log.should_log("k", 0)
    log.should_log("k", 500)
    assert [r.count for r in log.due(1_000)] == [1]
    assert log.should_log("k", 1_500) is False, "the summary counted as the window's line"
    assert log.due(2_000) == [Repeats(key="k", count=1, span_ms=1_000)]


def test_keys_without_repeats_are_never_due() -> None:
    log = LogThrottle(window_ms=10)
    log.should_log("once", 0)
    assert log.due(1_000) == []


def test_a_line_after_the_window_resets_the_count() -> None:
    log = LogThrottle(window_ms=1_000)
    log.should_log("k", 0)
    log.should_log("k", 10)
    assert log.should_log("k", 2_000) is True
    assert log.due(5_000) == []
