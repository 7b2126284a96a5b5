"""Whether this pod can still write to Kafka, from its own publishes (pure: no clock, no I/O).

The pod publishes all the time while it holds sessions (heartbeat snapshots every 2 s). A publish
that fails, or that has been waiting for the broker longer than ``stall_ms`` (a partitioned
network fails nothing: the sends wait until the producer's request timeout), means the pod is cut
off from Kafka: nothing it hears from its executors reaches the workers, and after the liveness
timeout they would be declared dead although they live. ``gateway.kafka_watchdog`` acts on it.

Imports nothing but the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STALL_MS = 3_000
"""How long writes may fail or hang before the pod counts as cut off: well inside the workers'
liveness timeout (15 s), counted from the last heartbeat that got through (up to a heartbeat
interval before the cut), to which the probe (up to ~3 s), the shed delay and the executors'
reconnect add."""


@dataclass(slots=True, kw_only=True)
class PublishWatch:
    """Publishes in flight and the last outcomes; ``problem(now_ms)`` says whether Kafka has been
    unwritable for ``stall_ms`` or more."""

    stall_ms: int = STALL_MS
    """Failing or hanging writes for this long make a problem."""
    _in_flight: dict[int, int] = field(default_factory=dict)
    """Token -> when its publish began."""
    _next_token: int = 0
    _failing_since_ms: int | None = None
    """When the first publish failed since the last one that succeeded."""
    _last_failure_ms: int = 0
    _last_success_ms: int | None = None

    def __post_init__(self) -> None:
        if self.stall_ms <= 0:
            raise ValueError(f"stall_ms must be positive, not {self.stall_ms}")

    def began(self, now_ms: int) -> int:
        """A publish begins; returns its token for :meth:`succeeded` or :meth:`failed`."""
        if not self._in_flight and not self._recent_failure(now_ms):
            self._failing_since_ms = None  # old failures are no evidence: count afresh
        self._next_token += 1
        self._in_flight[self._next_token] = now_ms
        return self._next_token

    def succeeded(self, token: int, now_ms: int) -> None:
        """The broker took the publish: writes work."""
        self._in_flight.pop(token, None)
        self._failing_since_ms = None
        self._last_success_ms = now_ms

    def failed(self, token: int, now_ms: int) -> None:
        """The publish failed (the producer gave up, or the broker refused it)."""
        began = self._in_flight.pop(token, now_ms)
        if self._failing_since_ms is None:
            self._failing_since_ms = min(began, now_ms)
        self._last_failure_ms = now_ms

    def abandoned(self, token: int) -> None:
        """The publish was cancelled before an outcome (the pod stopping): it says nothing."""
        self._in_flight.pop(token, None)

    def unwritable_ms(self, now_ms: int) -> int:
        """For how long writes have been failing or hanging: while a publish hangs or the last
        one failed, since the last one that succeeded (what the workers last heard from this pod
        is that old), or since the trouble began if none has. 0: they work, or nothing has been
        tried for ``2 * stall_ms`` since the last failure: no evidence either way (a pod that
        sheds its sessions stops publishing; it must get a chance to take executors again)."""
        starts = list(self._in_flight.values())
        if self._failing_since_ms is not None and (self._recent_failure(now_ms) or starts):
            starts.append(self._failing_since_ms)
        if not starts:
            return 0
        if self._last_success_ms is not None:
            starts.append(self._last_success_ms)
        return max(0, now_ms - min(starts))

    def _recent_failure(self, now_ms: int) -> bool:
        return now_ms - self._last_failure_ms < 2 * self.stall_ms

    def problem(self, now_ms: int) -> str | None:
        """``None`` while Kafka takes writes, else why the pod counts as cut off."""
        unwritable_ms = self.unwritable_ms(now_ms)
        if unwritable_ms < self.stall_ms:
            return None
        return f"writes to Kafka failing or stalled for {unwritable_ms / 1000:.1f} s"
