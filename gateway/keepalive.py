"""The gateway's WebSocket keepalive, fair to executors when the gateway itself is late.

websockets' own keepalive pings every ``ping_interval`` and fails the session (1011, "keepalive
ping timeout") when no pong came within ``ping_timeout`` by the clock. When the gateway's event
loop runs late (thousands of sessions on a busy machine, a reconnect wave), the pong may well have
arrived in time and be waiting in the socket, unread; or be read in the same turn of the loop as
the timeout fires, which then wins. Either way the gateway declared live executors dead by its
own lateness: at ~7,500 sessions on two busy cores, whole waves of 1011s, their reconnects making
the loop later still.

``KeepaliveConnection`` keeps websockets' schedule and bounds, and only changes the verdict: on
a timeout it lets the loop run once (reading what is waiting in the sockets) and, if the pong has
come, or if the loop was itself late by more than the timeout's margin while waiting, gives the
executor another ``ping_timeout`` before failing it. A session is still failed once its pong is
``ping_timeout`` overdue on a loop that ran on time; a frozen executor is detected as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import cast

from websockets.asyncio.server import ServerConnection
from websockets.frames import CloseCode

logger = logging.getLogger(__name__)

LATE_LOOP_S = 1.0
"""A wait for a pong that overran its timeout by more than this was the loop's lateness, not the
executor's: the pong gets another timeout."""
MAX_EXTENSIONS = 3
"""At most this many extra timeouts for one ping: a loop late for that long fails it anyway."""


class KeepaliveConnection(ServerConnection):
    """``ServerConnection`` whose keepalive tells the executor's silence from the gateway's
    lateness (``serve(create_connection=KeepaliveConnection)``)."""

    async def keepalive(self) -> None:
        assert self.ping_interval is not None
        latency: float | None = 0.0
        try:
            while latency is not None:
                await asyncio.sleep(max(0.0, self.ping_interval - latency))
                # websockets' ping returns the pong's future (typed as an awaitable).
                pong_received = cast("asyncio.Future[float]", await self.ping())
                if self.ping_timeout is None:
                    continue
                latency = await self._await_pong(pong_received, self.ping_timeout)
        except Exception:
            logger.debug("keepalive ping failed", exc_info=True)
            return
        async with self.send_context():
            self.protocol.fail(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
        raise AssertionError("send_context() should wait for connection_lost()")

    async def _await_pong(
        self, pong_received: asyncio.Future[float], timeout_s: float
    ) -> float | None:
        """The pong's latency; ``None`` when it is overdue on a timely loop."""
        loop = asyncio.get_running_loop()
        for _ in range(MAX_EXTENSIONS + 1):
            started = loop.time()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    return await asyncio.shield(pong_received)
            # Let the loop read what waits in the sockets (one turn polls them, the next has run
            # their callbacks), then judge.
            for _ in range(2):
                await asyncio.sleep(0)
            if pong_received.done():
                return pong_received.result()
            if loop.time() - started - timeout_s <= LATE_LOOP_S:
                return None
        return None
