"""The gateway's keepalive: one sweeper task pings every session, instead of a task per session.

websockets' own keepalive runs a task per connection that sleeps, pings and waits for the pong
under a timeout of its own: at thousands of sessions, those wake-ups and timers were most of an
idle gateway's CPU (issue 12). Here one task per gateway wakes every ``tick_s``, sends the pings
that are due (a frame written at once, never awaited: a session whose buffers are full does not
hold up the others) and fails the sessions whose pong is overdue, as websockets did: close code
1011, "keepalive ping timeout", the TCP connection dropped after the close timeout. When to ping
and when a pong is overdue is ``gateway.ping_schedule``'s (pure) decision, which tells the
executor's silence from the gateway's lateness.

The executors' own pings to the gateway are answered by websockets, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from websockets.asyncio.server import ServerConnection
from websockets.frames import CloseCode
from websockets.protocol import State

from gateway.ping_schedule import PingSchedule

logger = logging.getLogger(__name__)

MAX_TICK_S = 0.25
"""The sweeper's period at most (a quarter of the interval or the timeout if shorter): a ping or
a verdict comes at most this late."""


class KeepaliveConnection(ServerConnection):
    """``ServerConnection`` pinged by the gateway's ``KeepaliveSweeper``
    (``serve(create_connection=KeepaliveConnection, ping_interval=None)``)."""

    keepalive_pong: Callable[[KeepaliveConnection], None] | None = None
    """Told when the pong of the sweeper's ping comes."""
    _keepalive_payload: bytes | None = None
    _keepalive_pings: int = 0

    def send_keepalive_ping(self) -> None:
        """Write a ping frame now (nothing when the session is closing)."""
        if self.protocol.state is not State.OPEN:
            return
        self._keepalive_pings += 1
        payload = self._keepalive_pings.to_bytes(8, "big")
        self._keepalive_payload = payload
        self.protocol.send_ping(payload)
        self.send_data()

    def fail_keepalive(self) -> None:
        """Close with 1011 (the pong is overdue), and drop the TCP connection after the close
        timeout if the executor does not answer the close (it is frozen, most likely)."""
        if self.protocol.state is not State.OPEN:
            return
        self.protocol.fail(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
        self.send_data()
        self.loop.call_later(self.close_timeout or 0.0, self.transport.abort)

    def acknowledge_pings(self, data: bytes) -> None:
        if data == self._keepalive_payload and self.keepalive_pong is not None:
            self._keepalive_payload = None
            self.keepalive_pong(self)
            return
        super().acknowledge_pings(data)  # a ping of websockets' own API (none in the gateway)


class KeepaliveSweeper:
    """The keepalive of one gateway's sessions: ``add`` each, ``remove`` it when it closes, and
    run ``run()`` as one of the gateway's loops."""

    def __init__(self, interval_s: float, timeout_s: float) -> None:
        self._schedule: PingSchedule[KeepaliveConnection] = PingSchedule(
            interval_s=interval_s, timeout_s=timeout_s
        )
        self.tick_s = min(MAX_TICK_S, interval_s / 4, timeout_s / 4)

    def __len__(self) -> int:
        return len(self._schedule)

    def add(self, ws: KeepaliveConnection) -> None:
        ws.keepalive_pong = self._answered
        self._schedule.add(ws, asyncio.get_running_loop().time())

    def remove(self, ws: KeepaliveConnection) -> None:
        ws.keepalive_pong = None
        self._schedule.remove(ws)

    def _answered(self, ws: KeepaliveConnection) -> None:
        self._schedule.answered(ws, asyncio.get_running_loop().time())

    async def run(self) -> None:
        """Ping what is due and fail what did not answer, every ``tick_s``, until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.tick_s)
            # Let the loop read what waits in the sockets (one turn polls them, the next has run
            # their callbacks): a pong that came while the loop ran late is not overdue.
            for _ in range(2):
                await asyncio.sleep(0)
            self.sweep(loop.time())

    def sweep(self, now_s: float) -> None:
        """Send the pings due by ``now_s`` and fail the sessions whose pong is overdue."""
        due = self._schedule.sweep(now_s)
        for ws in due.ping:
            _guarded(ws, ws.send_keepalive_ping)
        for ws in due.failed:
            ws.keepalive_pong = None
            _guarded(ws, ws.fail_keepalive)


def _guarded(ws: KeepaliveConnection, action: Callable[[], None]) -> None:
    """Run one session's keepalive action; one that fails drops that session, never the
    sweeper (a dead loop would fail the pod)."""
    try:
        action()
    except Exception:
        logger.debug("keepalive of a session failed; dropping it", exc_info=True)
        with contextlib.suppress(Exception):
            ws.transport.abort()
