"""Serving the console: uvicorn, run programmatically until a stop event is set.

Owns the one ``import uvicorn``. Signals are not uvicorn's business here: ``__main__`` handles
SIGTERM once and sets ``stop``. The app's lifespan, which owns the background work
(``console.app``), starts before the server and stops after it has answered its last request (or
``GRACEFUL_SHUTDOWN_S`` passed). When that work dies, the console stops and ``run_console``
raises ``RoleFailed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator, Sequence

import uvicorn

from console.access.guard import AccessPolicy
from console.app import create_app
from console.oidc.config import OidcConfig
from management.channel import CommandChannel, LiveExecutors
from runtime.lifecycle import Service, first_of
from runtime.metrics import Metrics
from runtime.readiness import Readiness
from runtime.tls import TlsFiles
from store.database import Store
from streams.exceptions import RoleFailed

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
    tls: TlsFiles | None = None,
    live: LiveExecutors | None = None,
    refresh_interval_s: float = 5.0,
    live_timeout_s: float = 3.0,
    channel: CommandChannel | None = None,
    access: AccessPolicy,
    oidc: OidcConfig | None = None,
    action_timeout_s: float = 10.0,
    access_log: bool = False,
    services: Sequence[Service] = (),
    metrics: Metrics | None = None,
    readiness: Readiness | None = None,
    dbos_conductor_metrics: bool = False,
) -> None:
    """Serve the console API on ``host:port`` until ``stop`` is set, then drain and return.

    Args:
        store: a started store.
        host: the interface to bind, e.g. ``127.0.0.1``.
        port: the TCP port.
        stop: set it to shut the server down.
        tls: serve https:// with this certificate (checked by the caller: ``server_context``);
            ``None``: http://.
        live: asks connected executors (workflow detail and steps); ``None``: the store only.
        refresh_interval_s: how often dashboard pages refresh themselves (0: never).
        live_timeout_s: how long a page waits for ``live`` before answering from the store.
        channel: carries operators' actions to executors (None: actions are refused).
        access: who may call what (sign-in, tokens, roles).
        oidc: single sign-on (None: off).
        action_timeout_s: how long one attempt of an action waits for the executor.
        access_log: log one line per request (off by default).
        services: started by the app's lifespan before it serves, stopped after (e.g. the
            Kafka channel given as ``live`` and ``channel``).
        metrics: what ``/metrics`` serves (None: a fresh registry).
        readiness: what ``/healthz`` and ``/readyz`` answer (None: the store is checked).
        dbos_conductor_metrics: ``/metrics`` also serves DBOS Conductor's families.

    Raises:
        OSError: the address cannot be bound (in use, or not ours).
        Exception: what the background work raised when it could not start.
        RoleFailed: the background work died (the console stopped).
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
        access=access,
        oidc=oidc,
        action_timeout_s=action_timeout_s,
        services=services,
        metrics=metrics,
        readiness=readiness,
        dbos_conductor_metrics=dbos_conductor_metrics,
    )
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=access_log,
        lifespan="off",  # entered below
        timeout_graceful_shutdown=int(GRACEFUL_SHUTDOWN_S),
        ssl_certfile=None if tls is None else str(tls.cert),
        ssl_keyfile=None if tls is None else str(tls.key),
    )
    server = _Server(config)
    background: Service = app.state.background
    try:
        # The app's lifespan is entered here, around the server, rather than by uvicorn, whose
        # lifespan driver calls sys.exit() when the startup fails: here it is an exception for
        # the caller. A TaskGroup owns the server: it has drained before the lifespan ends.
        async with app.router.lifespan_context(app), asyncio.TaskGroup() as tasks:
            serving = tasks.create_task(server.serve(sockets=[sock]))
            scheme = "http" if tls is None else "https"
            logger.info("console listening on %s://%s:%d", scheme, host, sock.getsockname()[1])
            await first_of(stop.wait(), background.failed.wait(), asyncio.wait({serving}))
            server.should_exit = True
    finally:
        sock.close()
    background.raise_if_failed()
    if not stop.is_set():
        raise RoleFailed("the console's server stopped on its own")
    logger.info("console stopped")
