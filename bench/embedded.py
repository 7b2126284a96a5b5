"""Running a benchmark against Baton's embedded broker (Tansu, memory storage, a free port)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from baton.embedded_broker import EmbeddedBroker

T = TypeVar("T")


def on_embedded_broker(work: Callable[[str], T]) -> T:
    """Run ``work(bootstrap)`` while an embedded broker runs, and stop the broker after it.

    The broker is a child process, so ``work`` may block this thread's event loop meanwhile.
    """

    async def with_broker() -> T:
        async with EmbeddedBroker() as broker:
            return work(broker.bootstrap)

    return asyncio.run(with_broker())
