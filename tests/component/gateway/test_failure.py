"""A gateway whose background loop dies says so, so that its role exits and is restarted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from gateway.config import GatewayConfig
from gateway.server import Gateway
from streams.ids import GatewayId
from streams.topics import Topics


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


class UnreachableKeyStore:
    """A ``KeyVerifier`` whose database is down."""

    async def verify(self, app: str, key: str) -> str:
        raise OSError("connection refused")

    async def unusable(self, key_ids: Iterable[str]) -> Mapping[str, str]:
        raise OSError("connection refused")

    async def record_use(self, key_id: str, now_ms: int) -> None:
        raise OSError("connection refused")


async def test_an_unreachable_key_store_answers_503_and_logs_once(
    kafka_bootstrap: str, topics: Topics, caplog: pytest.LogCaptureFixture
) -> None:
    config = GatewayConfig(
        gateway_id=GatewayId("gw-keys-down"), kafka_bootstrap=kafka_bootstrap, topics=topics, port=0
    )
    async with Gateway(config, UnreachableKeyStore()) as gateway:
        for _ in range(3):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(f"ws://127.0.0.1:{gateway.port}/websocket/app/bk_x_y"):
                    pass
            assert refused.value.response.status_code == 503
    errors = [r for r in caplog.records if r.name == "gateway.server" and r.levelname == "ERROR"]
    assert len(errors) == 1
