"""When each session of a gateway is pinged, and which ones failed to answer (pure: the caller
passes the clock; no I/O).

One schedule per gateway, swept by one task (``gateway.keepalive``) instead of a keepalive task
per session: the sweep returns the sessions due for a ping and those whose pong is overdue.

Semantics (websockets' keepalive, which this replaces, and the gateway's late-loop allowance):

- a session is first pinged ``interval_s`` after it is added, then ``interval_s`` after each
  answered ping (a pong that comes later than that is followed by the next ping at once);
- one ping is outstanding at a time; its pong is due ``timeout_s`` after it was sent;
- a pong judged overdue more than ``late_loop_s`` after its deadline was overdue because the
  gateway's loop ran late, not the executor: it gets another ``timeout_s``, at most
  ``max_extensions`` times for one ping.

Imports nothing but the standard library.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

LATE_LOOP_S = 1.0
"""A pong judged overdue more than this after its deadline was the loop's lateness, not the
executor's: it gets another timeout."""
MAX_EXTENSIONS = 3
"""At most this many extra timeouts for one ping: a loop late for that long fails it anyway."""


@dataclass(slots=True, kw_only=True)
class _Slot(Generic[K]):
    key: K | None
    """The session; ``None`` once removed (stale heap entries must not keep it alive)."""
    serial: int
    """Of the session's one valid heap entry (older entries are stale)."""
    sent_at_s: float | None = None
    """When the outstanding ping was sent (``None``: none is)."""
    answered_at_s: float | None = None
    """When the last ping sent was answered (``None``: the outstanding one is not)."""
    deadline_s: float = 0.0
    extensions: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Sweep(Generic[K]):
    """What one sweep found: ping these now; these did not answer in time (they are forgotten)."""

    ping: list[K]
    failed: list[K]


@dataclass(slots=True, kw_only=True)
class PingSchedule(Generic[K]):
    """The keepalive schedule of the sessions of one gateway, keyed by session."""

    interval_s: float
    timeout_s: float
    late_loop_s: float = LATE_LOOP_S
    max_extensions: int = MAX_EXTENSIONS
    _slots: dict[K, _Slot[K]] = field(default_factory=dict)
    _heap: list[tuple[float, int, _Slot[K]]] = field(default_factory=list)
    _serials: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        if not (self.interval_s > 0 and self.timeout_s > 0):
            raise ValueError(f"interval and timeout must be positive: {self}")

    def __len__(self) -> int:
        return len(self._slots)

    def add(self, key: K, now_s: float) -> None:
        """Keep ``key`` alive from now on: its first ping is due ``interval_s`` from now."""
        self.remove(key)
        slot = _Slot(key=key, serial=next(self._serials))
        self._slots[key] = slot
        heapq.heappush(self._heap, (now_s + self.interval_s, slot.serial, slot))

    def remove(self, key: K) -> None:
        """Forget ``key`` (its session closed); unknown keys are ignored."""
        slot = self._slots.pop(key, None)
        if slot is not None:
            slot.key = None

    def answered(self, key: K, now_s: float) -> None:
        """The pong of ``key``'s outstanding ping came."""
        slot = self._slots.get(key)
        if slot is not None and slot.sent_at_s is not None and slot.answered_at_s is None:
            slot.answered_at_s = now_s
            if now_s >= slot.sent_at_s + self.interval_s:
                self._push(slot, now_s)  # a slow pong: the next ping is overdue already

    def next_due_s(self) -> float | None:
        """When the next sweep has something to do (``None``: nothing is scheduled)."""
        while self._heap:
            when_s, serial, slot = self._heap[0]
            if slot.key is not None and slot.serial == serial:
                return when_s
            heapq.heappop(self._heap)  # stale
        return None

    def sweep(self, now_s: float) -> Sweep[K]:
        """Everything due by ``now_s``. The caller sends the pings at once (they count as sent
        at ``now_s``) and closes the failed sessions, which the schedule has forgotten."""
        ping: list[K] = []
        failed: list[K] = []
        heap = self._heap
        while heap and heap[0][0] <= now_s:
            _, serial, slot = heapq.heappop(heap)
            if slot.key is not None and slot.serial == serial:
                self._visit(slot.key, slot, now_s, ping, failed)
        return Sweep(ping=ping, failed=failed)

    def _visit(self, key: K, slot: _Slot[K], now_s: float, ping: list[K], failed: list[K]) -> None:
        """Ping ``key``, fail it, or look at it again later."""
        if slot.sent_at_s is None:  # its first ping
            ping.append(key)
            self._sent(slot, now_s)
        elif slot.answered_at_s is not None:
            next_ping_s = slot.sent_at_s + self.interval_s
            if now_s >= next_ping_s:
                ping.append(key)
                self._sent(slot, now_s)
            else:
                self._push(slot, next_ping_s)
        elif now_s < slot.deadline_s:
            self._push(slot, slot.deadline_s)
        elif now_s - slot.deadline_s > self.late_loop_s and slot.extensions < self.max_extensions:
            slot.extensions += 1
            slot.deadline_s = now_s + self.timeout_s
            self._push(slot, slot.deadline_s)
        else:
            failed.append(key)
            self.remove(key)

    def _sent(self, slot: _Slot[K], now_s: float) -> None:
        slot.sent_at_s = now_s
        slot.answered_at_s = None
        slot.deadline_s = now_s + self.timeout_s
        slot.extensions = 0
        self._push(slot, min(now_s + self.interval_s, slot.deadline_s))

    def _push(self, slot: _Slot[K], when_s: float) -> None:
        slot.serial = next(self._serials)
        heapq.heappush(self._heap, (when_s, slot.serial, slot))
