"""``baton up``: the embedded single-machine deployment, one process per role, kept running.

Creates the store schema, starts the embedded broker (unless ``--kafka`` names one; that one is
checked first) and creates the topics, then runs ``baton worker``, ``baton gateway`` and
``baton console`` as child processes — the same roles a distributed deployment runs on separate
machines — and supervises them (``baton.role_processes``): a role that dies is restarted with
backoff. SIGINT/SIGTERM stops everything in reverse order.

The embedded broker is supervised too (``BrokerKeeper``). When it dies, one line says so; the
worker is held (stopped: its tables' changelogs die with the broker's memory storage), the broker
is restarted on the same port (executors and roles keep their bootstrap address), comes back
empty, and its topics are re-created before anything else can touch them (the roles' clients
never create topics: ``broker.auto_create``); one line says it is back, and the worker starts
afresh: each app from the executors the store last saw connected (``store.liveness_seed``), then
the gateways' heartbeat snapshots confirm the live ones and expose the ones that died meanwhile.
The gateway and the console keep running: their Kafka clients reconnect by themselves, and
their readiness (``/readyz``) is false meanwhile. With ``--kafka``, ``baton.topic_keeper`` does
the same for a broker that is not ours and comes back without Baton's topics.

``baton up`` exits 0 after a signal, and non-zero only on an error it cannot recover from (a
role cannot be restarted because the data directory is gone).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from contextlib import AsyncExitStack

from aiokafka.errors import KafkaError

from baton.data_dir import prepare_data_dir
from baton.embedded_broker import EmbeddedBroker, EmbeddedBrokerError
from baton.probes import accepts_tcp
from baton.role_processes import SELF_LIMITED, RoleProcesses, exit_description
from baton.settings import Settings
from baton.topic_keeper import TopicKeeper
from broker.admin import ensure_topics
from runtime.backoff import RestartBackoff
from runtime.lifecycle import Service, first_of
from store.database import Store
from streams.exceptions import BrokerUnreachable
from streams.topics import Topics

logger = logging.getLogger(__name__)


async def run_up(settings: Settings) -> int:
    """Run every role until a signal (0) or an unrecoverable failure (1)."""
    prepare_data_dir(settings.data_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with AsyncExitStack() as stack:
        bootstrap = settings.kafka_bootstrap
        if bootstrap is not None:
            # Before the store: an unreachable --kafka fails before anything is created.
            await ensure_topics(bootstrap, settings.topics.specs())
        async with Store(settings.store_url()):
            pass  # creates the schema once, before the roles race to do it
        broker: EmbeddedBroker | None = None
        if bootstrap is None:
            broker = EmbeddedBroker(
                port=settings.broker_port, log_path=settings.data_dir / "broker.log"
            )
            await stack.enter_async_context(broker)
            bootstrap = broker.bootstrap
            await ensure_topics(bootstrap, settings.topics.specs())
        roles = await stack.enter_async_context(RoleProcesses(settings, bootstrap))
        services: list[Service] = [roles]
        keeper: Service = (
            TopicKeeper(bootstrap, settings.topics, roles)
            if broker is None
            else BrokerKeeper(broker, settings.topics, roles)
        )
        services.append(await stack.enter_async_context(keeper))
        if await _listening(settings):
            _announce(settings, bootstrap)
        await first_of(stop.wait(), *(service.failed.wait() for service in services))
        return 1 if any(service.failure is not None for service in services) else 0
    return 0


class BrokerKeeper(Service):
    """Restarts the embedded broker when it dies, on the same port, and re-creates its topics;
    holds the worker meanwhile and starts it again once the topics are back."""

    def __init__(self, broker: EmbeddedBroker, topics: Topics, roles: RoleProcesses) -> None:
        super().__init__("embedded broker keeper")
        self._broker = broker
        self._topics = topics
        self._roles = roles
        self._backoff = RestartBackoff()
        self.restarts = 0

    async def _start(self, stack: AsyncExitStack) -> None:
        self.tasks.loop("embedded broker", self._keep_alive())

    async def _keep_alive(self) -> None:
        while True:
            started = time.monotonic()
            code = await self._broker.wait()
            pause_s = self._backoff.after_death(time.monotonic() - started)
            logger.warning(
                "embedded broker on %s lost (%s); restarting it on the same port in %.1f s "
                "(it comes back empty: the worker restarts with it)",
                self._broker.bootstrap,
                exit_description(code),
                pause_s,
                extra={"kafka": self._broker.bootstrap, "exit_code": code, **SELF_LIMITED},
            )
            worker = self._roles.roles["worker"]
            # At once: its tables' changelogs died with the broker, and Faust cannot stop
            # cleanly without one (it would hang, then trace back).
            await worker.hold(stop_timeout_s=0)
            created = await self._restart(pause_s)
            self.restarts += 1
            logger.info(
                "embedded broker is back on %s; it came back empty: re-created %d topics",
                self._broker.bootstrap,
                len(created),
                extra={"kafka": self._broker.bootstrap},
            )
            worker.release()

    async def _restart(self, pause_s: float) -> list[str]:
        """Restart the broker and re-create the topics, retrying with backoff until both
        worked; the topics created."""
        while True:
            await asyncio.sleep(pause_s)
            try:
                if not self._broker.running:
                    await self._broker.restart()
                return await ensure_topics(self._broker.bootstrap, self._topics.specs())
            except (EmbeddedBrokerError, BrokerUnreachable, KafkaError) as exc:
                pause_s = self._backoff.after_death(0.0)
                logger.error(  # noqa: TRY400 - the cause is one line; no traceback
                    "could not restart the embedded broker: %s; retrying in %.1f s",
                    getattr(exc, "line", exc),
                    pause_s,
                    extra={"kafka": self._broker.bootstrap},
                )


async def _listening(settings: Settings, timeout_s: float = 60.0) -> bool:
    """Wait until the gateway and the console accept connections (False on time-out)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    for host, port in (
        (settings.gateway_host, settings.gateway_port),
        (settings.console_host, settings.console_port),
    ):
        while not await accepts_tcp(host, port):
            if loop.time() > deadline:
                logger.error("nothing listens on %s:%d yet; see the roles' logs above", host, port)
                return False
            await asyncio.sleep(0.1)
    return True


def _announce(settings: Settings, bootstrap: str) -> None:
    secure = "s" if settings.tls is not None else ""
    logger.info(
        "Baton is up: executors connect to ws%s://%s:%d (conductor_url), console at "
        "http%s://%s:%d; create a key with `baton keys create APP --data-dir %s`",
        secure,
        settings.gateway_host,
        settings.gateway_port,
        secure,
        settings.console_host,
        settings.console_port,
        settings.data_dir,
        extra={"kafka": bootstrap},
    )
