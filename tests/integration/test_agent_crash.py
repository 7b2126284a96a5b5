"""An agent that crashes crashes the worker's Faust app (issue 12: the worker used to live on at
0 % CPU with its agents cancelled). ``baton.worker.Worker`` then fails with ``RoleFailed``, the
worker process exits non-zero and ``baton up`` restarts it."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from broker.faust_app import WorkerApp
from streams.records import ExecutorConnected
from tests.component.gateway.fakes import CommandSender
from tests.unit.recovery.recovery_builders import connected

pytestmark = pytest.mark.integration


class Poisoned(Exception):
    """What the test agent raises."""


async def test_a_crashing_agent_stops_the_faust_app(
    worker: WorkerApp, executor_events: CommandSender
) -> None:
    seen: list[bytes] = []

    async def poisoned(stream: Any) -> None:
        async for value in stream:
            seen.append(value)
            raise Poisoned("cannot go on")

    worker.app.agent(worker.executor_events, name="poisoned")(poisoned)
    await worker.app.start()
    try:
        event: ExecutorConnected = connected()
        await executor_events.send(event)
        await asyncio.wait_for(worker.app.wait_until_stopped(), timeout=30)
        assert len(seen) == 1
        assert isinstance(worker.app.crash_reason, Poisoned)
    finally:
        # A crashed app's stop fails in the commit of its consumer (cancelled, or its thread's
        # loop already closed) before its producer is closed: close that one by hand. In the
        # worker role the process exits (``RoleFailed``).
        with contextlib.suppress(asyncio.CancelledError, RuntimeError):
            await worker.app.stop()
        await worker.app.producer.on_stop()  # type: ignore[attr-defined]
