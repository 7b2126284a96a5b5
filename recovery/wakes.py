"""When the recovery agent plans an app besides its tick: a schedule of wake-ups by event time.

``recovery.policy.wake_at_ms`` says when a record's timer (a grace period, a retry backoff) runs
out; the agent files that here and plans the app at that moment instead of at its next tick.
An app is woken at most once every ``gap_ms``: a wave of thousands of closes must not cost a plan
of the whole app per close (the tick, every 100 ms, bounds the rest).

Pure: no asyncio, Faust or clock (the agent passes ``now_ms``). Imports nothing of Baton's but
``streams``.
"""

from __future__ import annotations

import heapq

from streams.ids import AppName

WAKE_GAP_MS = 20
"""An app is woken at most this often (ms): later wake-ups within it wait until its end."""


class Wakes:
    """Wake-ups of apps at event times (ms), earliest first."""

    def __init__(self, gap_ms: int = WAKE_GAP_MS) -> None:
        self._gap_ms = gap_ms
        self._heap: list[tuple[int, AppName]] = []
        self._woken_ms: dict[AppName, int] = {}

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, app: AppName, at_ms: int) -> bool:
        """File a wake-up of ``app`` at ``at_ms``; whether it is now the earliest."""
        earliest = not self._heap or at_ms < self._heap[0][0]
        heapq.heappush(self._heap, (at_ms, app))
        return earliest

    def next_ms(self) -> int | None:
        """The earliest wake-up's time (``None``: none)."""
        return self._heap[0][0] if self._heap else None

    def due(self, now_ms: int) -> set[AppName]:
        """Take out the wake-ups at or before ``now_ms``: the apps to plan now. An app woken
        less than ``gap_ms`` ago is filed again for the end of that gap instead."""
        apps: set[AppName] = set()
        deferred: set[AppName] = set()
        while self._heap and self._heap[0][0] <= now_ms:
            app = heapq.heappop(self._heap)[1]
            woken_ms = self._woken_ms.get(app)
            if woken_ms is not None and now_ms - woken_ms < self._gap_ms:
                deferred.add(app)
            else:
                apps.add(app)
        for app in apps:
            self._woken_ms[app] = now_ms
        for app in deferred - apps:
            heapq.heappush(self._heap, (self._woken_ms[app] + self._gap_ms, app))
        return apps

    def clear(self) -> None:
        """Forget every wake-up (the apps are no longer this worker's)."""
        self._heap.clear()
        self._woken_ms.clear()
