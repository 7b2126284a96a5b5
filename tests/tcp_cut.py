"""A TCP forwarder a test controls, standing for the network between executors and Baton: it can
stall every connection for a while (a blip: nothing gets through, no socket closes) or reset them
all (a middlebox dropping its connection table: every peer sees the link die, no close frame).

No pytest imports here: benchmarks use it too. Its event loop runs in a thread of its own, owned
by ``start``/``stop``; the public methods block.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

CHUNK_BYTES = 65_536


@dataclass
class TcpCut:
    """Forwards ``127.0.0.1:port`` to ``target_host:target_port`` until told otherwise."""

    target_port: int
    target_host: str = "127.0.0.1"
    listen_port: int = 0
    """The port to listen on (0: any free one); ``port`` is the one bound."""
    port: int = field(default=0, init=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _server: asyncio.Server | None = field(default=None, init=False, repr=False)
    _flowing: asyncio.Event | None = field(default=None, init=False, repr=False)
    _links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = field(
        default_factory=set, init=False, repr=False
    )
    _handlers: set[asyncio.Task[None]] = field(default_factory=set, init=False, repr=False)

    @property
    def url(self) -> str:
        """A WebSocket URL through the forwarder."""
        return f"ws://127.0.0.1:{self.port}"

    @property
    def connections(self) -> int:
        """How many connections are being forwarded."""
        return len(self._links)

    def start(self) -> TcpCut:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-cut")
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        """Close the listener and every connection, then end the thread (idempotent)."""
        if self._loop is None or self._thread is None:
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._loop = None
        self._thread = None

    def stall(self, seconds: float) -> None:
        """Forward nothing, either way, for ``seconds``; sockets stay open and new connections
        are accepted but not forwarded until the stall ends. Blocks for ``seconds``."""
        self.hold()
        try:
            time.sleep(seconds)
        finally:
            self.release()

    def hold(self) -> None:
        """Forward nothing from now on, either way, until :meth:`release` (sockets stay open)."""
        self._call(self._set_flowing(False))

    def release(self) -> None:
        """Forward again what :meth:`hold` held, and what comes next."""
        self._call(self._set_flowing(True))

    def reset(self) -> int:
        """Abort every connection on both sides with a TCP reset; returns how many there were."""
        return self._call(self._reset_all())

    def __enter__(self) -> TcpCut:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- on the loop's thread ----------------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None, "TcpCut not started"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._on_client, "127.0.0.1", self.listen_port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _set_flowing(self, flowing: bool) -> None:
        assert self._flowing is not None
        if flowing:
            self._flowing.set()
        else:
            self._flowing.clear()

    async def _reset_all(self) -> int:
        links = list(self._links)
        for client, upstream in links:
            _abort(client)
            _abort(upstream)
        return len(links)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._reset_all()
        if self._flowing is not None:
            self._flowing.set()  # pipes held by a stall go on to find their sockets gone
        # Not cancelled: the streams' own callback would report the cancellation as an error.
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5)
        if self._server is not None:
            await self._server.wait_closed()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            _abort(writer)
            self._handlers.discard(task)
            return
        link = (writer, up_writer)
        self._links.add(link)
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._links.discard(link)
            self._handlers.discard(task)
            for end in link:
                end.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._flowing is not None
        try:
            while data := await reader.read(CHUNK_BYTES):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            _abort(writer)
            return
        with contextlib.suppress(ConnectionError, OSError):
            writer.write_eof()  # a half-close travels on


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a reset (linger 0), not a FIN: the peer's next read fails at once."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
