"""Publishing the pod's session events (connects and disconnects), retried until Kafka takes them.

The shell around ``gateway.outbox``: ``put`` never waits (a session's handler hands its event
over and goes on), ``run`` is the pod's one writer of session events, a loop that writes the
outbox's batches in order and, when a write fails or times out, pauses with exponential backoff
(``runtime.backoff``, ``RETRY``) and writes the same batch again, until it is delivered or the
pod stops. ``drain`` is the stop's last attempt, bounded in time, before the producer closes.

What a stop cannot deliver is lost, as before: the workers' liveness timeout and the pod's
silence then tell its executors' fate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from gateway.outbox import Overflow, SessionEvent, SessionOutbox
from runtime.backoff import BackoffPolicy, RestartBackoff
from runtime.clock import wall_ms
from runtime.log_throttle import LogThrottle
from streams.exceptions import PublishError
from streams.ids import AppName
from streams.records import Record

logger = logging.getLogger(__name__)

RETRY = BackoffPolicy(initial_s=0.25, max_s=5.0)
"""Pauses between attempts of a failed batch: 0.25 s doubling to 5 s (each attempt itself may
wait up to the producer's request timeout, 15 s, for a broker that does not answer). The pauses
start over once a batch is written."""
DRAIN_S = 5.0
"""How long a stopping pod keeps trying to write what is still held."""


class BatchSink(Protocol):
    """Where the records go (``gateway.kafka.KafkaSink``)."""

    async def publish_batch(self, topic: str, records: Sequence[Record]) -> list[int]: ...


class SessionEvents:
    """The pod's session events, written in order and retried (see the module docstring).

    Args:
        sink: the Kafka writer.
        topic: the executor events topic.
        outbox: the held records (its cap bounds the memory).
        on_dropped: called with the apps whose records the full outbox dropped (the pod lists
            their sessions in its next heartbeat).
        retry: the pauses between attempts.
    """

    def __init__(
        self,
        sink: BatchSink,
        topic: str,
        *,
        outbox: SessionOutbox | None = None,
        on_dropped: Callable[[frozenset[AppName]], None] = lambda apps: None,
        retry: BackoffPolicy = RETRY,
    ) -> None:
        self._sink = sink
        self._topic = topic
        self._outbox = SessionOutbox() if outbox is None else outbox
        self._on_dropped = on_dropped
        self._retry = retry
        self._backoff = RestartBackoff(retry)
        self._ready = asyncio.Event()
        self._retry_now = asyncio.Event()
        self._overflows = LogThrottle()
        self._dropped_since_log = 0

    @property
    def held(self) -> int:
        """Records not yet written (queued or in flight)."""
        return len(self._outbox)

    def holds(self, app: AppName) -> bool:
        """Whether events of ``app`` are still to be written (``gateway.outbox``)."""
        return self._outbox.holds(app)

    def put(self, record: SessionEvent) -> None:
        """Hand a session event over for writing, behind every one held (never waits)."""
        overflow = self._outbox.put(record)
        self._ready.set()
        if overflow is not None:
            self._overflowed(overflow)

    async def run(self) -> None:
        """Write the held events, in order, until cancelled (a loop of the pod)."""
        while True:
            await self._ready.wait()
            batch = self._outbox.take()
            if not batch:
                self._ready.clear()
                continue
            if not await self._attempt(batch):
                await self._pause(self._backoff.after_death(0.0))

    def retry_now(self) -> None:
        """Kafka took another write of the pod (a heartbeat): end the pause before the next
        attempt, so that the held events are not overtaken by more than that write."""
        if self.held:
            self._retry_now.set()

    async def _pause(self, pause_s: float) -> None:
        self._retry_now.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(pause_s):
                await self._retry_now.wait()

    async def drain(self, timeout_s: float = DRAIN_S) -> None:
        """The stop's last attempts at what is held (after ``run`` was cancelled); what is left
        after ``timeout_s`` is logged and dropped."""
        try:
            async with asyncio.timeout(timeout_s):
                while batch := self._outbox.take():
                    if not await self._attempt(batch):
                        await asyncio.sleep(self._backoff.after_death(0.0))
        except TimeoutError:
            pass
        if self.held:
            logger.warning(
                "stopping with %d session events unwritten (Kafka did not take them in %.0f s)",
                self.held,
                timeout_s,
                extra={"unwritten": self.held},
            )

    async def _attempt(self, batch: Sequence[SessionEvent]) -> bool:
        """One write of ``batch``; whether it was delivered (else it is back in the outbox)."""
        try:
            await self._sink.publish_batch(self._topic, batch)
        except PublishError as exc:
            self._outbox.failed()
            failures = self._backoff.failures_in_a_row + 1
            if failures == 1 or self._backoff.at_max:
                logger.warning(
                    "could not write %d session events (attempt %d; retrying): %s",
                    len(batch),
                    failures,
                    exc,
                    extra={"held": self.held, "attempt": failures},
                )
            return False
        except BaseException:
            self._outbox.failed()  # cancelled mid-write: ``drain`` tries it again
            raise
        self._outbox.delivered()
        if self._backoff.failures_in_a_row:
            logger.info(
                "session events written again after %d failed attempts",
                self._backoff.failures_in_a_row,
                extra={"held": self.held},
            )
            self._backoff = RestartBackoff(self._retry)
        return True

    def _overflowed(self, overflow: Overflow) -> None:
        self._on_dropped(overflow.apps)
        self._dropped_since_log += overflow.dropped
        if not self._overflows.should_log("overflow", wall_ms()):
            return
        logger.error(
            "session event outbox full (%d records): dropped the %d oldest unwritten since the "
            "last line; their apps' sessions will be listed in the next heartbeat",
            self._outbox.max_records,
            self._dropped_since_log,
            extra={
                "outbox_max_records": self._outbox.max_records,
                "dropped": self._dropped_since_log,
                "apps": sorted(overflow.apps),
            },
        )
        self._dropped_since_log = 0
