"""Simulated DBOS executors, thousands in one asyncio loop: each is one WebSocket session that
speaks the Conductor protocol's executor side (as ``dbos/_conductor/conductor.py`` answers it),
reduced to what Baton asks: ``executor_info``, ``recovery`` (answered with success, and
recorded), and the observability requests of capture polling (answered with nothing to report).

For tests of scale (``tests/integration/test_large_fleet.py``): a real DBOS executor is a process
with a database; a simulated one is a socket and a few objects. ``kill`` aborts the TCP connection
without a close frame (1006), as a killed process leaves it. The loop runs in a thread of its own,
so that a synchronous test can drive ``baton up`` beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

T = TypeVar("T")

EMPTY_OUTPUT: dict[str, Any] = {
    "list_workflows": [],
    "list_queued_workflows": [],
    "list_steps": [],
    "get_workflow": None,
}
"""The observability requests capture polling sends, and the answer of an executor with no
workflows."""


class SimulatedFleet:
    """``size`` simulated executors of one app (ids ``{prefix}-00000``...), started together."""

    def __init__(self, url: str, prefix: str = "sim") -> None:
        self.url = url
        """``ws://host:port/websocket/{app}/{key}``."""
        self.prefix = prefix
        self.recovery_requests: list[tuple[str, list[str]]] = []
        """(the executor asked, the executor ids it was asked to recover), in arrival order."""
        self.connected: set[str] = set()
        """Executors whose session is open (``executor_info`` answered)."""
        self._sessions: dict[str, ClientConnection] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._killed: set[str] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fleet", daemon=True)
        self._thread.start()

    def executor_id(self, index: int) -> str:
        return f"{self.prefix}-{index:05}"

    def start(self, size: int, concurrency: int = 8, timeout_s: float = 120) -> None:
        """Open ``size`` sessions, ``concurrency`` handshakes at a time (the gateway refuses more
        than 16 pending key checks from one source); returns once all are connected."""
        self._run(self._start(size, concurrency), timeout_s)

    def kill(self, executor_id: str) -> None:
        """Drop one executor's TCP connection without a close frame (a killed process)."""
        self._killed.add(executor_id)
        session = self._sessions[executor_id]
        self._loop.call_soon_threadsafe(session.transport.abort)

    def close(self) -> None:
        """Close every session and stop the loop."""
        with contextlib.suppress(TimeoutError):
            self._run(self._close(), 60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _run(self, coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=timeout_s)

    async def _start(self, size: int, concurrency: int) -> None:
        gate = asyncio.Semaphore(concurrency)
        opened = [asyncio.Event() for _ in range(size)]
        for index in range(size):
            self._tasks.append(
                asyncio.create_task(self._session(self.executor_id(index), gate, opened[index]))
            )
        await asyncio.gather(*(event.wait() for event in opened))

    async def _session(
        self, executor_id: str, gate: asyncio.Semaphore, opened: asyncio.Event
    ) -> None:
        while True:  # as a DBOS client does: reconnect 1 s after a refusal or a close
            async with gate:
                try:
                    ws = await connect(self.url, open_timeout=60, compression=None, max_queue=4)
                except (OSError, InvalidHandshake, TimeoutError):
                    ws = None
            if ws is None:
                await asyncio.sleep(1)
                continue
            self._sessions[executor_id] = ws
            await self._serve(executor_id, ws, opened)
            if executor_id in self._killed:
                return
            await asyncio.sleep(1)

    async def _serve(self, executor_id: str, ws: ClientConnection, opened: asyncio.Event) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for text in ws:
                message = orjson.loads(text)
                await ws.send(orjson.dumps(self._answer(executor_id, message)).decode())
                if message["type"] == "executor_info":
                    self.connected.add(executor_id)
                    opened.set()
        self.connected.discard(executor_id)

    def _answer(self, executor_id: str, message: dict[str, Any]) -> dict[str, Any]:
        kind, request_id = message["type"], message["request_id"]
        match kind:
            case "executor_info":
                return {
                    "type": kind,
                    "request_id": request_id,
                    "executor_id": executor_id,
                    "application_version": "v1",
                    "hostname": "simulated",
                    "language": "python",
                    "dbos_version": "2.31.1",
                    "executor_metadata": None,
                }
            case "recovery":
                self.recovery_requests.append((executor_id, list(message["executor_ids"])))
                return {
                    "type": kind,
                    "request_id": request_id,
                    "success": True,
                    "error_message": None,
                }
            case _ if kind in EMPTY_OUTPUT:
                return {
                    "type": kind,
                    "request_id": request_id,
                    "output": EMPTY_OUTPUT[kind],
                    "error_message": None,
                }
            case _:
                return {
                    "type": kind,
                    "request_id": request_id,
                    "error_message": f"{kind} is not simulated",
                }

    async def _close(self) -> None:
        self._killed.update(self._sessions)
        for ws in list(self._sessions.values()):
            ws.transport.abort()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
