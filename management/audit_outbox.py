"""The audit outbox: audit rows written to the store before they were on the audit topic.

The console records each action's audit row unpublished, then publishes it; the admin commands
(``baton keys``, ``baton tokens``) run without a broker and leave theirs unpublished. The outbox
publishes every unpublished row to the audit topic and marks it, right after an action and every
few seconds, so the topic (the replayable log) holds every operator action even when the broker
was down for a while. Publishing twice is harmless: the audit log's rows are keyed by event.

A ``runtime.lifecycle.Service``: the console's lifespan starts its loop and stops it (a pending
row waits for the next console: it is in the store).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack

from management.channel import CommandChannel, LiveUnavailable
from runtime.lifecycle import Service
from store.audit import mark_published, unpublished_actions
from store.database import Store

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 2.0
BATCH = 100


class AuditOutbox(Service):
    """Publishes the store's unpublished audit rows through ``channel``: on demand
    (``publish_pending``) and, while started, every ``interval_s``."""

    def __init__(
        self, store: Store, channel: CommandChannel, *, interval_s: float = DEFAULT_INTERVAL_S
    ) -> None:
        super().__init__("audit outbox")
        self._interval_s = interval_s
        self._store = store
        self._channel = channel
        self._lock = asyncio.Lock()
        self._failing = False

    async def publish_pending(self) -> int:
        """Publish what is pending, oldest first; returns how many rows were published.

        A broker failure leaves the rest pending (logged once until it works again).
        """
        published = 0
        async with self._lock:
            while True:
                async with self._store.sessionmaker.begin() as session:
                    pending = await unpublished_actions(session, BATCH)
                if not pending:
                    break
                done: list[int] = []
                try:
                    for row_id, record in pending:
                        await self._channel.publish_audit(record)
                        done.append(row_id)
                except LiveUnavailable as exc:
                    if not self._failing:
                        logger.warning("audit records wait for the broker: %s", exc)
                    self._failing = True
                finally:
                    async with self._store.sessionmaker.begin() as session:
                        await mark_published(session, done)
                published += len(done)
                if len(done) < len(pending):
                    break
                self._failing = False
        return published

    async def _start(self, stack: AsyncExitStack) -> None:
        self.tasks.loop("publisher", self._publish_periodically())

    async def _publish_periodically(self) -> None:
        while True:
            try:
                await self.publish_pending()
            except Exception:
                logger.exception("the audit outbox failed; trying again")
            await asyncio.sleep(self._interval_s)
