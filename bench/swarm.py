"""Simulated DBOS executors for the gateway benchmark: one process holds many WebSocket sessions.

Each simulated executor connects as the DBOS Python conductor client does
(``dbos/_conductor/conductor.py`` with websockets >= 15: the library's keepalive pings every 20 s
with a 20 s timeout, permessage-deflate offered, no message size limit), answers
``executor_info``, ``recovery`` (success) and the list verbs (empty lists), and reconnects 1 s after
a close, as DBOS does. ``kill EXECUTOR_ID`` on stdin drops one session without a close frame and
never reconnects it (a killed process); ``stop`` ends the process.

It reports on stdout, one JSON object a line: ``{"connected": n}`` whenever the count of live
sessions changes, ``{"recovery": executor_id, "dead": [...]}`` for each recovery request
received, ``{"requests": n}`` (the requests answered, but for the handshake's ``executor_info``:
the capture polls' queries, recoveries, management calls) when asked with ``count``, and every
``LAG_REPORT_S`` ``{"lag_ms": worst, "requests": n}``: the worst lag of its own event loop over
that window (how late a 0.25 s sleep woke), so that the load generator's own overrun can be told
from the server's.

Run by ``bench/gateway.py`` (``python -m bench.swarm --help``); not meant for use by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

PING_INTERVAL_S = 20.0
"""The DBOS client's keepalive (websockets' default, which dbos keeps)."""
PING_TIMEOUT_S = 20.0
RECONNECT_S = 1.0
"""DBOS reconnects one second after a close."""
LAG_PROBE_S = 0.25
LAG_REPORT_S = 5.0
LIST_VERBS = frozenset({"list_workflows", "list_queued_workflows", "list_steps", "list_schedules"})


@dataclass(frozen=True, slots=True)
class Spec:
    """Executors ``{prefix}-{first}`` .. ``{prefix}-{first + count - 1}`` of one app."""

    app: str
    key: str
    first: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Spec:
        app, key, first, count = text.split(",")
        return cls(app, key, int(first), int(count))

    def render(self) -> str:
        return f"{self.app},{self.key},{self.first},{self.count}"


def answer(message: dict[str, Any], executor_id: str, version: str) -> dict[str, Any] | None:
    """What the DBOS client sends back to a conductor request (``None``: nothing)."""
    kind = message.get("type")
    base = {"type": kind, "request_id": message.get("request_id"), "error_message": None}
    if kind == "executor_info":
        return {
            **base,
            "executor_id": executor_id,
            "application_version": version,
            "hostname": "bench",
            "language": "python",
            "dbos_version": "2.31.1",
            "executor_metadata": None,
        }
    if kind == "recovery":
        return {**base, "success": True}
    if kind in LIST_VERBS:
        return {**base, "output": []}
    if kind == "exist_pending_workflows":
        return {**base, "exist": False}
    return {**base, "error_message": f"{kind} is not simulated"}


@dataclass
class Swarm:
    url: str
    version: str
    prefix: str
    gate: asyncio.Semaphore
    live: dict[str, ClientConnection] = field(default_factory=dict)
    """Each executor's handshaken session: an older session of the same executor closing late
    (superseded) must not count the newer one out."""
    killed: set[str] = field(default_factory=set)
    sessions: dict[str, ClientConnection] = field(default_factory=dict)
    requests: int = 0
    """Requests answered, but for ``executor_info`` (each session's handshake: counted in, a
    wave of connects would read as capture polls)."""
    closes: Counter[str] = field(default_factory=Counter)
    """Sessions closed, by who closed and why (``gateway 1011 keepalive ping timeout``,
    ``client 1011 ...``, ``lost`` for a connection lost without a close frame)."""
    _reported: int = -1

    def report(self, **fields: Any) -> None:
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()

    def report_count(self, force: bool = False) -> None:
        n = len(self.live)
        if force or n != self._reported:
            self._reported = n
            self.report(connected=n)

    async def run(self, spec: Spec, index: int) -> None:
        executor_id = f"{self.prefix}-{index}"
        url = f"{self.url}/websocket/{spec.app}/{spec.key}"
        while executor_id not in self.killed:
            try:
                async with self.gate:
                    ws = await connect(
                        url,
                        open_timeout=60,
                        close_timeout=5,
                        ping_interval=PING_INTERVAL_S,
                        ping_timeout=PING_TIMEOUT_S,
                        max_size=None,
                    )
            except (OSError, TimeoutError, InvalidStatus, ConnectionClosed):
                await asyncio.sleep(RECONNECT_S + random.random())
                continue
            self.sessions[executor_id] = ws
            try:
                await self._serve(ws, executor_id)
            except ConnectionClosed:
                pass
            finally:
                self.closes[close_cause(ws)] += 1
                if self.sessions.get(executor_id) is ws:
                    del self.sessions[executor_id]
                if self.live.get(executor_id) is ws:
                    del self.live[executor_id]
                    self.report_count()
            await asyncio.sleep(RECONNECT_S)

    async def _serve(self, ws: ClientConnection, executor_id: str) -> None:
        async for text in ws:
            message = json.loads(text)
            if message.get("type") == "executor_info":
                self.live[executor_id] = ws
                self.report_count()
            elif message.get("type") == "recovery":
                self.report(recovery=executor_id, dead=message.get("executor_ids", []))
            reply = answer(message, executor_id, self.version)
            if message.get("type") != "executor_info":
                self.requests += 1
            if reply is not None:
                await ws.send(json.dumps(reply))

    def kill(self, executor_id: str) -> None:
        self.killed.add(executor_id)
        ws = self.sessions.get(executor_id)
        if ws is not None:
            ws.transport.abort()


def close_cause(ws: ClientConnection) -> str:
    """Who closed a session and why: the gateway (its close frame came first), this client, or
    neither (the connection was lost)."""
    if ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd_then_sent in (True, None):
        frame = ws.protocol.close_rcvd
        return f"gateway {frame.code} {frame.reason}".strip()
    if ws.protocol.close_sent is not None:
        frame = ws.protocol.close_sent
        return f"client {frame.code} {frame.reason}".strip()
    return "lost"


async def loop_lag(swarm: Swarm) -> None:
    """Report the worst lag of this process's event loop every ``LAG_REPORT_S``."""
    loop = asyncio.get_running_loop()
    worst, window_start = 0.0, loop.time()
    while True:
        before = loop.time()
        await asyncio.sleep(LAG_PROBE_S)
        now = loop.time()
        worst = max(worst, now - before - LAG_PROBE_S)
        if now - window_start >= LAG_REPORT_S:
            swarm.report(
                lag_ms=round(worst * 1000, 1), requests=swarm.requests, closes=swarm.closes
            )
            worst, window_start = 0.0, now


async def commands(swarm: Swarm, done: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        words = line.split()
        if not words or words[0] == "stop":
            done.set()
            return
        if words[0] == "kill":
            swarm.kill(words[1])
        elif words[0] == "count":
            swarm.report_count(force=True)
            swarm.report(requests=swarm.requests)


async def main_async(args: argparse.Namespace) -> None:
    swarm = Swarm(args.url, args.version, args.prefix, asyncio.Semaphore(args.concurrency))
    done = asyncio.Event()
    tasks = [
        asyncio.create_task(swarm.run(spec, index))
        for spec in (Spec.parse(s) for s in args.spec)
        for index in range(spec.first, spec.first + spec.count)
    ]
    tasks.append(asyncio.create_task(loop_lag(swarm)))
    await commands(swarm, done)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="simulated DBOS executors (bench/gateway.py)")
    parser.add_argument("--url", required=True, help="ws://host:port of the gateway")
    parser.add_argument("--spec", action="append", required=True, help="app,key,first,count")
    parser.add_argument("--prefix", default="sim", help="executor id prefix")
    parser.add_argument("--version", default="v1", help="application version")
    parser.add_argument("--concurrency", type=int, default=4, help="handshakes at once")
    asyncio.run(main_async(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
