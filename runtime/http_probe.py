"""A tiny HTTP/1.1 listener for a role that serves no HTTP of its own (the worker): a few
``GET`` pages such as ``/metrics``, one request per connection.

``HttpProbe(name, host, port, pages)`` is a ``runtime.lifecycle.Service``: it binds on start (a
taken port is an ``OSError`` for the caller) and closes on stop. ``pages`` maps a path to an
async callable returning an ``Answer``; any other path is 404, any other method than GET and
HEAD is 405. A request must arrive whole (at most ``MAX_REQUEST_BYTES``) within
``READ_TIMEOUT_S``: this is for Prometheus and orchestrators' probes, not for browsers.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass

from runtime.lifecycle import Service
from runtime.metrics import CONTENT_TYPE, Metrics

logger = logging.getLogger(__name__)

READ_TIMEOUT_S = 5.0
MAX_REQUEST_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"
    body: bytes = b""


Page = Callable[[], Awaitable[Answer]]
"""What a path serves."""


def metrics_page(metrics: Metrics) -> Page:
    """``/metrics``: ``metrics`` in Prometheus' text format."""

    async def page() -> Answer:
        return Answer(content_type=CONTENT_TYPE, body=metrics.exposition())

    return page


class HttpProbe(Service):
    """Serves ``pages`` on ``host:port`` (port 0: any free port, see ``port``)."""

    def __init__(self, name: str, host: str, port: int, pages: Mapping[str, Page]) -> None:
        super().__init__(f"{name} http")
        self._host = host
        self._port = port
        self._pages = dict(pages)
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._server is not None, "probe not started"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _start(self, stack: AsyncExitStack) -> None:
        self._server = await asyncio.start_server(
            self._serve, self._host, self._port, limit=MAX_REQUEST_BYTES
        )
        stack.push_async_callback(self._close)

    async def _close(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            answer, head_only = await self._answer(reader)
            status = http.HTTPStatus(answer.status)
            writer.write(
                (
                    f"HTTP/1.1 {status.value} {status.phrase}\r\n"
                    f"Content-Type: {answer.content_type}\r\n"
                    f"Content-Length: {len(answer.body)}\r\n"
                    "Connection: close\r\n\r\n"
                ).encode()
                + (b"" if head_only else answer.body)
            )
            await writer.drain()
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError):
            pass  # a client that left or sent garbage: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[Answer, bool]:
        """Read one request (line and headers; no body is expected) and answer it."""
        async with asyncio.timeout(READ_TIMEOUT_S):
            head = await reader.readuntil(b"\r\n\r\n")
        method, _, rest = head.decode("latin-1").partition(" ")
        path = rest.partition(" ")[0].partition("?")[0]
        if method not in ("GET", "HEAD"):
            return Answer(status=405, body=b"GET or HEAD only\n"), False
        page = self._pages.get(path)
        if page is None:
            return Answer(status=404, body=b"not found\n"), method == "HEAD"
        return await page(), method == "HEAD"
