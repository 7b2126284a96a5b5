"""``gateway.ping_schedule``: every session is pinged each interval while it answers, failed when
a pong is overdue on a timely sweep, and given more time when the sweep itself came late."""

from __future__ import annotations

import weakref

import pytest

from gateway.ping_schedule import PingSchedule, Sweep


def schedule(interval_s: float = 5.0, timeout_s: float = 8.0) -> PingSchedule[str]:
    return PingSchedule(interval_s=interval_s, timeout_s=timeout_s)


def swept(s: PingSchedule[str], now_s: float) -> tuple[list[str], list[str]]:
    sweep: Sweep[str] = s.sweep(now_s)
    return sorted(sweep.ping), sorted(sweep.failed)


def test_a_session_that_answers_is_pinged_every_interval_and_never_failed() -> None:
    s = schedule()
    s.add("a", 0.0)
    assert swept(s, 4.9) == ([], [])
    pings = []
    now = 5.0
    while now < 100.0:
        ping, failed = swept(s, now)
        assert failed == []
        if ping:
            pings.append(now)
            s.answered("a", now + 0.01)
        now = round(now + 0.25, 2)
    assert pings == [5.0 * i for i in range(1, 20)]
    assert len(s) == 1


def test_a_session_that_stops_answering_is_failed_at_its_pong_deadline() -> None:
    s = schedule()
    s.add("a", 0.0)
    s.add("b", 0.0)
    assert swept(s, 5.0) == (["a", "b"], [])
    s.answered("a", 5.1)
    assert swept(s, 10.0) == (["a"], [])  # b's pong is not due before 13
    s.answered("a", 10.1)
    assert swept(s, 12.9) == ([], [])
    assert swept(s, 13.0) == ([], ["b"])
    assert len(s) == 1  # b is forgotten
    assert swept(s, 40.0) == (["a"], [])  # its ping due at 15, on a sweep that came late
    assert swept(s, 47.9) == ([], [])
    assert swept(s, 48.0) == ([], ["a"])


def test_a_pong_later_than_the_interval_is_followed_by_the_next_ping_at_once() -> None:
    s = schedule(interval_s=1.0, timeout_s=3.0)
    s.add("a", 0.0)
    assert swept(s, 1.0) == (["a"], [])
    assert swept(s, 2.0) == ([], [])  # still waiting for its pong
    s.answered("a", 2.5)
    assert swept(s, 2.5) == (["a"], [])


def test_an_interval_longer_than_the_timeout() -> None:
    s = schedule(interval_s=10.0, timeout_s=2.0)
    s.add("a", 0.0)
    assert swept(s, 10.0) == (["a"], [])
    s.answered("a", 10.5)
    assert swept(s, 12.0) == ([], [])  # answered: the next ping at 20
    assert swept(s, 19.9) == ([], [])
    assert swept(s, 20.0) == (["a"], [])
    assert swept(s, 22.0) == ([], ["a"])


def test_a_late_sweep_gives_the_pong_another_timeout_a_bounded_number_of_times() -> None:
    s = PingSchedule[str](interval_s=1.0, timeout_s=1.0, late_loop_s=1.0, max_extensions=2)
    s.add("a", 0.0)
    assert swept(s, 1.0) == (["a"], [])
    # The sweep that judges the pong due at 2.0 runs 1.5 s late: the loop's lateness.
    assert swept(s, 3.5) == ([], [])
    s.answered("a", 3.6)
    assert swept(s, 3.6) == (["a"], [])  # answered within the extension: pinged again
    # Late three times in a row for the same ping: two extensions, then it fails.
    assert swept(s, 6.1) == ([], [])
    assert swept(s, 8.2) == ([], [])
    assert swept(s, 10.3) == ([], ["a"])


def test_a_timely_sweep_fails_an_overdue_pong_without_extension() -> None:
    s = PingSchedule[str](interval_s=1.0, timeout_s=1.0, late_loop_s=1.0)
    s.add("a", 0.0)
    assert swept(s, 1.0) == (["a"], [])
    assert swept(s, 2.9) == ([], ["a"])  # 0.9 s past its deadline: not the loop's lateness


def test_a_removed_session_is_neither_pinged_nor_failed() -> None:
    s = schedule()
    s.add("a", 0.0)
    assert swept(s, 5.0) == (["a"], [])
    s.remove("a")
    s.remove("a")  # twice: harmless
    assert swept(s, 100.0) == ([], [])
    assert s.next_due_s() is None


def test_a_session_added_again_starts_afresh() -> None:
    s = schedule()
    s.add("a", 0.0)
    assert swept(s, 5.0) == (["a"], [])
    s.remove("a")
    s.add("a", 6.0)
    assert s.next_due_s() == 11.0
    assert swept(s, 11.0) == (["a"], [])


def test_an_unsolicited_pong_is_ignored() -> None:
    s = schedule()
    s.add("a", 0.0)
    s.answered("a", 1.0)  # no ping out yet
    s.answered("nobody", 1.0)
    assert swept(s, 5.0) == (["a"], [])
    assert swept(s, 13.0) == ([], ["a"])


def test_sweeps_do_constant_work_per_due_session() -> None:
    """10,000 sessions: each sweep visits only what is due (the heap), not every session."""
    s = schedule()
    for i in range(10_000):
        s.add(f"e{i}", i * 0.0005)  # added over 5 s
    ping, _ = swept(s, 5.25)
    assert 400 < len(ping) < 600
    assert s.next_due_s() == pytest.approx(5.25 + 0.0005, abs=1e-6)


def test_interval_and_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        PingSchedule[str](interval_s=0.0, timeout_s=1.0)


def test_a_removed_session_is_not_kept_alive_by_the_schedule() -> None:
    """Stale heap entries outlive their session by up to a timeout: they must not hold it (a
    drained gateway would otherwise keep every connection until it exits)."""

    class Session:
        pass

    s = PingSchedule[Session](interval_s=5.0, timeout_s=8.0)
    session = Session()
    s.add(session, 0.0)
    s.sweep(5.0)
    gone = weakref.ref(session)
    s.remove(session)
    del session
    assert gone() is None
