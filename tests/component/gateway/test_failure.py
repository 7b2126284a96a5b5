"""A gateway whose background loop dies says so, so that its role exits and is restarted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from gateway.server import Gateway


async def test_a_dead_command_loop_marks_the_gateway_failed(
    make_gateway: Callable[..., Gateway],
) -> None:
    gateway = make_gateway()
    async with gateway:
        assert not gateway.failed.is_set()
        # What a fatal consumer error looks like to the loop: its consumer stops under it.
        feed: Any = gateway._feed
        await feed._consumer.stop()
        await asyncio.wait_for(gateway.failed.wait(), 10)
        assert gateway.failure is not None


async def test_a_clean_stop_is_not_a_failure(make_gateway: Callable[..., Gateway]) -> None:
    gateway = make_gateway()
    async with gateway:
        pass
    assert not gateway.failed.is_set()
    assert gateway.failure is None
