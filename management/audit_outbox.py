"""The audit outbox: audit rows written to the store before they were on the audit topic.

The console records each action's audit row unpublished, then publishes it; the admin commands
(``baton keys``, ``baton tokens``) run without a broker and leave theirs unpublished. The outbox
publishes every unpublished row to the audit topic and marks it, right after an action and every
few seconds, so the topic (the replayable log) holds every operator action even when the broker
was down for a while. Publishing twice is harmless: the audit log's rows are keyed by event.
"""

from __future__ import annotations

import asyncio
import logging

from management.channel import CommandChannel, LiveUnavailable
from store.audit import mark_published, unpublished_actions
from store.database import Store

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 2.0
BATCH = 100


class AuditOutbox:
    """Publishes the store's unpublished audit rows through ``channel``."""

    def __init__(self, store: Store, channel: CommandChannel) -> None:
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

    async def run(self, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        """Publish pending rows every ``interval_s`` until cancelled."""
        while True:
            try:
                await self.publish_pending()
            except Exception:
                logger.exception("the audit outbox failed; trying again")
            await asyncio.sleep(interval_s)
