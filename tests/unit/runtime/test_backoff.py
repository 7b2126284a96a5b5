"""Restart pauses: doubling from 0.5 s to 30 s, back to the start after a stable run."""

from __future__ import annotations

from runtime.backoff import BackoffPolicy, RestartBackoff


def test_pauses_double_up_to_the_maximum_and_stay_there() -> None:
    backoff = RestartBackoff()

    pauses = [backoff.after_death(uptime_s=1.0) for _ in range(9)]

    assert pauses == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert backoff.at_max
    assert backoff.failures_in_a_row == 9


def test_a_stable_run_starts_the_pauses_over() -> None:
    backoff = RestartBackoff(BackoffPolicy(initial_s=1.0, max_s=8.0, reset_after_s=60.0))
    for _ in range(5):
        backoff.after_death(uptime_s=2.0)
    assert backoff.at_max

    assert backoff.after_death(uptime_s=60.0) == 1.0
    assert backoff.failures_in_a_row == 1
    assert not backoff.at_max
    assert backoff.after_death(uptime_s=59.0) == 2.0
