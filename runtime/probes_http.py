"""The probe routes of a role and the small HTTP listener that serves them where the role has
no HTTP server of its own.

``ProbeRoutes`` is the one table of plain-HTTP GET routes a role answers beside its work:
``/healthz`` and ``/readyz`` (``runtime.readiness``), and ``/metrics`` (``metrics_route``) added
with :meth:`ProbeRoutes.add`. The gateway answers these routes on its WebSocket port (websockets'
``process_request``); the worker has no server, so ``ProbeServer`` serves them on its own port
(``BATON_WORKER_PORT``). The console serves its own through Starlette.

``ProbeServer`` speaks just enough HTTP/1.1 for probes and scrapers: one ``GET`` or ``HEAD`` per
connection, headers read up to ``MAX_HEAD_BYTES`` within ``READ_TIMEOUT_S``, then the answer and
``Connection: close``. Anything else is refused (404, 405, 400).

Imports nothing of Baton's but ``runtime``.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

from runtime.lifecycle import Service
from runtime.listener import stop_accepting
from runtime.metrics import CONTENT_TYPE, Metrics
from runtime.readiness import ProbeAnswer, Readiness

logger = logging.getLogger(__name__)

MAX_HEAD_BYTES = 8_192
READ_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpAnswer:
    """What a route answers."""

    status: int
    body: bytes
    content_type: str = "application/json"


Route = Callable[[], Awaitable[HttpAnswer]]
"""A route's handler: no arguments (probes take no parameters), an answer."""


def metrics_route(metrics: Metrics) -> Route:
    """``GET /metrics``: ``metrics`` in Prometheus' text format."""

    async def exposition() -> HttpAnswer:
        return HttpAnswer(status=200, body=metrics.exposition(), content_type=CONTENT_TYPE)

    return exposition


def json_answer(answer: ProbeAnswer) -> HttpAnswer:
    return HttpAnswer(status=answer.status, body=json.dumps(answer.body).encode())


class ProbeRoutes:
    """Path -> handler, for the plain-HTTP routes of a role."""

    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}

    @classmethod
    def of(cls, readiness: Readiness) -> ProbeRoutes:
        """``/healthz`` and ``/readyz`` of ``readiness``."""
        routes = cls()

        async def healthz() -> HttpAnswer:
            return json_answer(await readiness.healthz())

        async def readyz() -> HttpAnswer:
            return json_answer(await readiness.readyz())

        routes.add("/healthz", healthz)
        routes.add("/readyz", readyz)
        return routes

    def add(self, path: str, route: Route) -> None:
        """Answer ``GET path`` with ``route``."""
        self._routes[path] = route

    def route(self, target: str) -> Route | None:
        """The handler of a request target (its query string ignored), or None."""
        return self._routes.get(target.split("?", 1)[0])


class ProbeServer(Service):
    """Serves ``routes`` on ``host:port`` (port 0: any free port, see :attr:`port`).

    Raises (on start):
        OSError: the address cannot be bound.
    """

    def __init__(self, routes: ProbeRoutes, host: str, port: int) -> None:
        super().__init__("probe listener")
        self._routes = routes
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "probe listener not started"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _start(self, stack: AsyncExitStack) -> None:
        self._server = await asyncio.start_server(
            self._serve, self._host, self._port, limit=MAX_HEAD_BYTES
        )
        stack.push_async_callback(self._close)
        logger.info("probes served at http://%s:%d (/healthz, /readyz)", self._host, self.port)

    async def _close(self) -> None:
        if self._server is not None:
            await stop_accepting(self._server.sockets)
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(READ_TIMEOUT_S):
                head = await reader.readuntil(b"\r\n\r\n")
            method, target = _request_line(head)
            answer = await self._answer(method, target)
            writer.write(_response(answer, with_body=method != "HEAD"))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass  # a client that went away or never finished its request: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _answer(self, method: str, target: str) -> HttpAnswer:
        if not method:
            return _plain(http.HTTPStatus.BAD_REQUEST)
        route = self._routes.route(target)
        if route is None:
            return _plain(http.HTTPStatus.NOT_FOUND)
        if method not in ("GET", "HEAD"):
            return _plain(http.HTTPStatus.METHOD_NOT_ALLOWED)
        return await route()


def _request_line(head: bytes) -> tuple[str, str]:
    """``(method, target)`` of a request head, or ``("", "")`` if it is not HTTP/1.x."""
    if len(head) > MAX_HEAD_BYTES:
        return "", ""
    parts = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return "", ""
    return parts[0], parts[1]


def _plain(status: http.HTTPStatus) -> HttpAnswer:
    return HttpAnswer(
        status=status.value, body=f"{status.phrase}\n".encode(), content_type="text/plain"
    )


def _response(answer: HttpAnswer, *, with_body: bool) -> bytes:
    phrase = http.HTTPStatus(answer.status).phrase
    head = (
        f"HTTP/1.1 {answer.status} {phrase}\r\n"
        f"Content-Type: {answer.content_type}\r\n"
        f"Content-Length: {len(answer.body)}\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + (answer.body if with_body else b"")
