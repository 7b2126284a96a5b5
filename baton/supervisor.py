"""``baton up``: the embedded single-machine deployment, one process per role.

Creates the store schema, starts the embedded broker (unless ``--kafka`` names one; that one is
checked first) and creates the topics, then runs ``baton worker``, ``baton gateway`` and
``baton console`` as child processes — the same roles a distributed deployment runs on separate
machines. SIGINT/SIGTERM, or any child exiting, stops the rest in reverse order (the console,
then the gateway, so executors see a drain, not a death, and the worker last). The children are
one ``runtime.lifecycle`` service (``RoleProcesses``): a child that exits on its own fails it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from contextlib import AsyncExitStack

from baton.children import die_with_parent
from baton.data_dir import prepare_data_dir
from baton.embedded_broker import EmbeddedBroker
from baton.probes import accepts_tcp
from baton.settings import Settings, environment
from broker.admin import ensure_topics
from runtime.lifecycle import Service, first_of
from store.database import Store
from streams.exceptions import RoleFailed

logger = logging.getLogger(__name__)

ROLES = ("worker", "gateway", "console")
STOP_TIMEOUT_S = 15.0


async def run_up(settings: Settings) -> int:
    """Run every role until a signal or a child's exit; returns the process exit code."""
    prepare_data_dir(settings.data_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        bootstrap = settings.kafka_bootstrap
        if bootstrap is not None:
            # Before the store: an unreachable --kafka fails before anything is created.
            await ensure_topics(bootstrap, settings.topics.specs())
        async with Store(settings.store_url()):
            pass  # creates the schema once, before the roles race to do it
        if bootstrap is None:
            broker = EmbeddedBroker(
                port=settings.broker_port, log_path=settings.data_dir / "broker.log"
            )
            await stack.enter_async_context(broker)
            bootstrap = broker.bootstrap
            await ensure_topics(bootstrap, settings.topics.specs())
        async with RoleProcesses(settings, bootstrap) as roles:
            if await _listening(settings):
                _announce(settings, bootstrap)
            await first_of(stop.wait(), roles.failed.wait())  # a failure is logged as it happens
            exited = roles.exited()
        return 1 if exited else 0
    return 0


class RoleProcesses(Service):
    """One child process per role, started in ``ROLES`` order and stopped in reverse (SIGTERM,
    then SIGKILL after ``STOP_TIMEOUT_S``); a child that exits on its own fails the service."""

    def __init__(self, settings: Settings, bootstrap: str) -> None:
        super().__init__("roles")
        self._settings = settings
        self._bootstrap = bootstrap
        self._children: dict[str, asyncio.subprocess.Process] = {}

    def exited(self) -> list[str]:
        """The roles whose process has exited."""
        return [role for role, child in self._children.items() if child.returncode is not None]

    async def _start(self, stack: AsyncExitStack) -> None:
        for role in ROLES:
            child = await _spawn(role, self._settings, self._bootstrap)
            self._children[role] = child
            stack.push_async_callback(_stop_child, child)
            self.tasks.loop(role, self._watch(role, child))

    @staticmethod
    async def _watch(role: str, child: asyncio.subprocess.Process) -> None:
        code = await child.wait()
        raise RoleFailed(f"role {role} exited with code {code}; stopping Baton")


async def _spawn(role: str, settings: Settings, bootstrap: str) -> asyncio.subprocess.Process:
    args = [
        sys.executable,
        "-m",
        "baton",
        role,
        "--kafka",
        bootstrap,
        "--data-dir",
        str(settings.data_dir),
        "--log-level",
        settings.log_level,
    ]
    if role == "gateway":
        args += ["--host", settings.gateway_host, "--port", str(settings.gateway_port)]
    if role == "console":
        args += ["--host", settings.console_host, "--port", str(settings.console_port)]
    if role == "worker":
        args += ["--port", str(settings.worker_port)]
    tls = settings.tls
    if tls is not None and role in ("gateway", "console"):
        args += ["--tls-cert", str(tls.cert.resolve()), "--tls-key", str(tls.key.resolve())]
    # The store URL may carry a password: every user of the machine can read a command line
    # (ps), only this one its environment.
    env = {**environment(), "BATON_DATABASE_URL": settings.store_url()}
    return await asyncio.create_subprocess_exec(*args, env=env, preexec_fn=die_with_parent)


async def _stop_child(child: asyncio.subprocess.Process) -> None:
    if child.returncode is None:
        child.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(child.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            logger.warning("child %d did not stop in %.0f s; killing it", child.pid, STOP_TIMEOUT_S)
            child.kill()
            await child.wait()


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
