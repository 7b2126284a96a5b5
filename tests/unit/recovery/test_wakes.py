"""The recovery agent's wake-ups: earliest first, each app at most once per gap."""

from __future__ import annotations

import itertools

from recovery.wakes import WAKE_GAP_MS, Wakes
from streams.ids import AppName

ORDERS, BILLING = AppName("orders"), AppName("billing")


def test_wakes_come_due_in_time_order() -> None:
    wakes = Wakes()
    assert wakes.next_ms() is None
    assert wakes.add(ORDERS, 2_000) is True
    assert wakes.add(BILLING, 1_000) is True  # earlier than what was filed
    assert wakes.add(ORDERS, 3_000) is False
    assert wakes.next_ms() == 1_000
    assert wakes.due(999) == set()
    assert wakes.due(1_000) == {BILLING}
    assert wakes.due(5_000) == {ORDERS}  # both of its wake-ups, once
    assert len(wakes) == 0


def test_an_app_is_woken_at_most_once_per_gap() -> None:
    wakes = Wakes()
    for at in range(1_000, 1_100):  # a wave of closes, one a millisecond
        wakes.add(ORDERS, at)
    woken = []
    now = 1_000
    while wakes.next_ms() is not None:
        now = max(now, wakes.next_ms() or now)
        if wakes.due(now):
            woken.append(now)
    assert woken[0] == 1_000
    assert all(b - a >= WAKE_GAP_MS for a, b in itertools.pairwise(woken))
    assert woken[-1] >= 1_099  # the last close's wake-up is not lost
    assert len(woken) <= 100 // WAKE_GAP_MS + 2


def test_clear_forgets_every_wake_up() -> None:
    wakes = Wakes()
    wakes.add(ORDERS, 1_000)
    wakes.due(1_000)
    wakes.add(ORDERS, 1_005)
    wakes.clear()
    assert wakes.next_ms() is None
    wakes.add(ORDERS, 1_006)
    assert wakes.due(1_006) == {ORDERS}  # no gap left over from before
