"""``runtime.http_probe.HttpProbe``: a real listener on a free loopback port, asked by real
sockets: its pages, 404, 405, HEAD, a request that never ends, garbage."""

from __future__ import annotations

import asyncio

import pytest

from runtime import http_probe
from runtime.http_probe import Answer, HttpProbe, metrics_page
from runtime.metrics import Metrics
from tests.prometheus_text import parse, value


async def ask(port: int, request: bytes) -> tuple[bytes, bytes]:
    """Send ``request`` raw; the status line and the body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = response.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], body


async def test_serves_its_pages_and_refuses_the_rest() -> None:
    metrics = Metrics("worker")
    metrics.sessions_opened.inc(3)

    async def hello() -> Answer:
        return Answer(body=b"hello\n")

    pages = {"/metrics": metrics_page(metrics), "/hello": hello}
    async with HttpProbe("test", "127.0.0.1", 0, pages) as probe:
        status, body = await ask(probe.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == b"HTTP/1.1 200 OK"
        assert value(parse(body.decode()), "baton_sessions_opened_total") == 3

        assert await ask(probe.port, b"GET /hello?x=1 HTTP/1.1\r\n\r\n") == (
            b"HTTP/1.1 200 OK",
            b"hello\n",
        )
        assert await ask(probe.port, b"HEAD /hello HTTP/1.1\r\n\r\n") == (b"HTTP/1.1 200 OK", b"")
        status, _ = await ask(probe.port, b"GET /nothing HTTP/1.1\r\n\r\n")
        assert status == b"HTTP/1.1 404 Not Found"
        status, _ = await ask(probe.port, b"POST /metrics HTTP/1.1\r\n\r\n")
        assert status == b"HTTP/1.1 405 Method Not Allowed"
        # Garbage and oversized requests are dropped without an answer; the probe still serves.
        assert await ask(probe.port, b"\x00" * 20_000 + b"\r\n\r\n") == (b"", b"")
        status, _ = await ask(probe.port, b"GET /hello HTTP/1.1\r\n\r\n")
        assert status == b"HTTP/1.1 200 OK"


async def test_a_request_that_never_ends_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_probe, "READ_TIMEOUT_S", 0.2)
    async with HttpProbe("test", "127.0.0.1", 0, {}) as probe:
        reader, writer = await asyncio.open_connection("127.0.0.1", probe.port)
        writer.write(b"GET /metrics HTTP/1.1\r\n")  # never the blank line
        assert await asyncio.wait_for(reader.read(), timeout=5) == b""
        writer.close()
        await writer.wait_closed()


async def test_a_taken_port_fails_the_start() -> None:
    async with HttpProbe("first", "127.0.0.1", 0, {}) as first:
        with pytest.raises(OSError, match="in use"):
            async with HttpProbe("second", "127.0.0.1", first.port, {}):
                pass
