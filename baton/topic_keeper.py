"""``baton up --kafka``: Baton's topics kept on a broker that is not ours.

An external broker can come back empty (its storage wiped, a fresh cluster on the same address).
The roles' clients never create topics (``broker.auto_create``), so without this the gateway and
the console would report unready forever (``broker.reachability``) and the worker would wait for
topics nobody makes. ``TopicKeeper`` looks for Baton's topics every ``interval_s``; when some are
gone it says so once, holds the worker (its tables' changelogs are gone too: it is stopped at
once), re-creates the topics with backoff until the broker takes them, and starts the worker
afresh (each app from the executors the store last saw connected, ``store.liveness_seed``), as
``baton.supervisor.BrokerKeeper`` does for the embedded broker. A broker that is unreachable is
not this module's business: the roles' readiness says so, and the check is simply tried again.

Must not import ``gateway``, ``recovery`` or ``console``.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack

from aiokafka.errors import KafkaError

from baton.role_processes import RoleProcesses
from broker.admin import ensure_topics, missing_topics
from runtime.backoff import RestartBackoff
from runtime.lifecycle import Service
from streams.exceptions import BrokerUnreachable
from streams.topics import Topics

logger = logging.getLogger(__name__)

CHECK_INTERVAL_S = 2.0
"""How often the topics are looked for: as often as the roles check their readiness."""


class TopicKeeper(Service):
    """Re-creates Baton's topics on ``bootstrap`` when they are gone, restarting the worker."""

    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        roles: RoleProcesses,
        *,
        interval_s: float = CHECK_INTERVAL_S,
    ) -> None:
        super().__init__("kafka topic keeper")
        self._bootstrap = bootstrap
        self._topics = topics
        self._roles = roles
        self._interval_s = interval_s
        self._backoff = RestartBackoff()
        self.recreations = 0
        """How many times the topics were found gone and re-created."""

    async def _start(self, stack: AsyncExitStack) -> None:
        self.tasks.loop("kafka topics", self._watch())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                missing = await missing_topics(self._bootstrap, self._topics.specs())
            except (BrokerUnreachable, KafkaError):
                continue  # the roles' readiness reports it; look again later
            if missing:
                await self._recreate(missing)

    async def _recreate(self, missing: list[str]) -> None:
        logger.warning(
            "Kafka at %s has lost %d of Baton's topics (did it come back empty?); stopping the "
            "worker and re-creating them",
            self._bootstrap,
            len(missing),
            extra={"kafka": self._bootstrap, "missing": missing},
        )
        worker = self._roles.roles["worker"]
        # At once: its tables' changelogs are gone, and Faust cannot stop cleanly without them.
        await worker.hold(stop_timeout_s=0)
        created = await self._create_until_done()
        self.recreations += 1
        logger.info(
            "re-created %d topics on %s; the worker starts afresh",
            len(created),
            self._bootstrap,
            extra={"kafka": self._bootstrap},
        )
        worker.release()

    async def _create_until_done(self) -> list[str]:
        pause_s = 0.0
        while True:
            await asyncio.sleep(pause_s)
            try:
                return await ensure_topics(self._bootstrap, self._topics.specs())
            except (BrokerUnreachable, KafkaError) as exc:
                pause_s = self._backoff.after_death(0.0)
                logger.error(  # noqa: TRY400 - the cause is one line; no traceback
                    "could not re-create Baton's topics on %s: %s; retrying in %.1f s",
                    self._bootstrap,
                    getattr(exc, "line", exc),
                    pause_s,
                    extra={"kafka": self._bootstrap},
                )
