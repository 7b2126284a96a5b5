"""Serving the console: uvicorn, run programmatically until a stop event is set.

Owns the one ``import uvicorn``. Signals are not uvicorn's business here: ``__main__`` handles
SIGTERM once and sets ``stop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn

from console.actors import ActorPolicy
from console.app import create_app
from management.channel import CommandChannel, LiveExecutors
from store.database import Store

logger = logging.getLogger(__name__)

GRACEFUL_SHUTDOWN_S = 5.0
"""How long open requests get to finish once ``stop`` is set."""


class _Server(uvicorn.Server):
    """A uvicorn server that leaves the process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def run_console(
    store: Store,
    host: str,
    port: int,
    stop: asyncio.Event,
    *,
    live: LiveExecutors | None = None,
    refresh_interval_s: float = 5.0,
    live_timeout_s: float = 3.0,
    channel: CommandChannel | None = None,
    actor_policy: ActorPolicy | None = None,
    action_timeout_s: float = 10.0,
    access_log: bool = False,
) -> None:
    """Serve the console API on ``host:port`` until ``stop`` is set, then drain and return.

    Args:
        store: a started store.
        host: the interface to bind, e.g. ``127.0.0.1``.
        port: the TCP port.
        stop: set it to shut the server down.
        live: asks connected executors (workflow detail and steps); ``None``: the store only.
        refresh_interval_s: how often dashboard pages refresh themselves (0: never).
        live_timeout_s: how long a page waits for ``live`` before answering from the store.
        channel: carries operators' actions to executors (None: actions are refused).
        actor_policy: how the console tells who acts.
        action_timeout_s: how long one attempt of an action waits for the executor.
        access_log: log one line per request (off by default).

    Raises:
        OSError: the address cannot be bound (in use, or not ours).
    """
    # Binding here, not inside uvicorn, makes a busy port an OSError for the caller instead of
    # uvicorn's sys.exit().
    sock = socket.create_server((host, port), reuse_port=False)
    app = create_app(
        store,
        live,
        refresh_interval_s=refresh_interval_s,
        live_timeout_s=live_timeout_s,
        channel=channel,
        actor_policy=actor_policy,
        action_timeout_s=action_timeout_s,
    )
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=access_log,
        lifespan="off",
        timeout_graceful_shutdown=int(GRACEFUL_SHUTDOWN_S),
    )
    server = _Server(config)
    logger.info("console listening on http://%s:%d", host, sock.getsockname()[1])
    try:
        async with asyncio.TaskGroup() as tasks:
            serving = tasks.create_task(server.serve(sockets=[sock]))
            stopping = tasks.create_task(stop.wait())
            outbox = app.state.actions.outbox
            publishing = None if outbox is None else tasks.create_task(outbox.run())
            await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            server.should_exit = True
            stopping.cancel()
            if publishing is not None:
                publishing.cancel()
    finally:
        sock.close()
        await app.state.bulk.stop()
    logger.info("console stopped")
