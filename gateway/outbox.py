"""The pod's session events (connects and disconnects) not yet taken by Kafka, in order.

Issue 12: in a 10,000-executor run the starved broker timed out the write of a disconnect; the
worker never learned that the executor had left, and the kill was never recovered. So a session
event is never given up on while the pod runs: it waits here until an attempt delivers it
(``gateway.session_events`` is the shell that makes the attempts, with backoff).

Order: the pod's session events leave in the order they were put, one batch at a time, and a
batch that fails goes back to the front whole. So a later connect of an executor never overtakes
its earlier disconnect (nor any other record of the pod). A failed batch may have been written in
part: the retry writes that part again. The liveness fold is idempotent (latest wins, a repeated
connect or disconnect of the same connection changes nothing), so at-least-once is enough.

Memory: at most ``max_records`` are held. Past that, the oldest not in flight are dropped (the
rest keep their order) and reported as an ``Overflow`` naming their apps: the shell logs it and
has those apps listed in the next heartbeat, which heals what the dropped records would have
said.

Pure: no Kafka, asyncio or clock. Imports nothing of Baton's but ``streams``.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass

from streams.ids import AppName
from streams.records import ExecutorConnected, ExecutorDisconnected

SessionEvent = ExecutorConnected | ExecutorDisconnected

MAX_RECORDS = 100_000
"""Default cap: every session of a 10,000-executor pod closing and reconnecting a few times over
(a record is ~250 bytes encoded, under ~1 KB as an object: ~100 MB at worst)."""
BATCH_RECORDS = 1_000
"""Records per attempt: a reconnect wave leaves in a few requests, each well under the broker's
1 MB batch limit per partition (``gateway.kafka.PRODUCER_BATCH_BYTES`` is 512 KB)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Overflow:
    """Records dropped because the outbox was full."""

    dropped: int
    apps: frozenset[AppName]
    """The apps whose records were dropped: their sessions are to be listed."""


class SessionOutbox:
    """A bounded FIFO of session events with at most one batch in flight.

    Args:
        max_records: the cap (queued and in flight together), at least 2.
        batch_records: the most records one attempt takes (below the cap).
    """

    def __init__(self, max_records: int = MAX_RECORDS, batch_records: int = BATCH_RECORDS) -> None:
        if batch_records <= 0 or max_records < 2:
            raise ValueError(
                f"need batch_records > 0 and max_records > 1: {batch_records}, {max_records}"
            )
        self.max_records = max_records
        self.batch_records = min(batch_records, max_records - 1)
        self._queued: deque[SessionEvent] = deque()
        self._sending: tuple[SessionEvent, ...] = ()
        self._by_app: Counter[AppName] = Counter()

    def __len__(self) -> int:
        """Records held: queued and in flight."""
        return len(self._queued) + len(self._sending)

    @property
    def in_flight(self) -> bool:
        return bool(self._sending)

    def holds(self, app: AppName) -> bool:
        """Whether a record of ``app`` is held: a listing of its sessions now would overtake
        it (the pod holds such listings back, ``gateway.server``)."""
        return self._by_app[app] > 0

    def put(self, record: SessionEvent) -> Overflow | None:
        """Queue ``record`` behind every record held; ``Overflow`` if older ones were dropped."""
        self._queued.append(record)
        self._by_app[record.app] += 1
        excess = len(self) - self.max_records
        if excess <= 0:
            return None
        # Never the batch in flight: its outcome is still to come. The queue holds at least the
        # record just put, and the batch is smaller than the cap, so there is enough to drop.
        dropped = [self._queued.popleft() for _ in range(excess)]
        self._forget(dropped)
        return Overflow(dropped=len(dropped), apps=frozenset(r.app for r in dropped))

    def take(self) -> tuple[SessionEvent, ...]:
        """The next batch to attempt (the oldest records), now in flight; empty when nothing is
        queued or a batch is already in flight."""
        if self._sending or not self._queued:
            return ()
        count = min(self.batch_records, len(self._queued))
        self._sending = tuple(self._queued.popleft() for _ in range(count))
        return self._sending

    def delivered(self) -> None:
        """The batch in flight was written: it leaves the outbox."""
        self._forget(self._sending)
        self._sending = ()

    def failed(self) -> None:
        """The batch in flight was not (or not surely) written: back to the front, in order."""
        self._queued.extendleft(reversed(self._sending))
        self._sending = ()

    def _forget(self, records: Iterable[SessionEvent]) -> None:
        self._by_app.subtract(r.app for r in records)
        self._by_app += Counter()  # drops the apps at zero
