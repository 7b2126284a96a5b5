"""The asyncio roles ``baton gateway`` and ``baton console``, each until a stop event is set."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from baton.settings import Settings
from broker.admin import ensure_topics
from console.actors import ActorPolicy
from console.server import run_console
from gateway.config import GatewayConfig
from gateway.keys import StoreKeys
from gateway.server import Gateway
from management.kafka_channel import KafkaLiveExecutors
from store.database import Store
from streams.exceptions import RoleFailed
from streams.ids import GatewayId

logger = logging.getLogger(__name__)


def gateway_config(settings: Settings) -> GatewayConfig:
    return GatewayConfig(
        gateway_id=GatewayId(settings.gateway_id),
        kafka_bootstrap=settings.require_kafka(),
        topics=settings.topics,
        host=settings.gateway_host,
        port=settings.gateway_port,
        ping_interval_s=settings.ping_interval_s,
        ping_timeout_s=settings.ping_timeout_s,
        heartbeat_interval_s=settings.heartbeat_interval_s,
        client_address_header=settings.gateway_client_address_header,
    )


async def run_gateway(settings: Settings, stop: asyncio.Event) -> None:
    """Serve executors until ``stop`` is set, then drain."""
    await ensure_topics(settings.require_kafka(), settings.topics.specs())
    store = Store(settings.store_url())
    async with store, Gateway(gateway_config(settings), StoreKeys(store)) as gateway:
        await first_of(stop.wait(), gateway.failed.wait())
        if gateway.failure is not None:
            raise RoleFailed(f"gateway failed: {gateway.failure!r}") from gateway.failure


async def first_of(*waits: Coroutine[Any, Any, object]) -> None:
    """Wait until the first of ``waits`` finishes; cancel the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


async def run_console_role(settings: Settings, stop: asyncio.Event) -> None:
    """Serve the HTTP API and the dashboard until ``stop`` is set.

    With a broker, workflow details are asked of live executors through the gateways; without
    one (``baton console`` alone, on a store) everything is served from the store.
    """
    async with contextlib.AsyncExitStack() as stack:
        store = await stack.enter_async_context(Store(settings.store_url()))
        live: KafkaLiveExecutors | None = None
        if settings.kafka_bootstrap is not None:
            await ensure_topics(settings.kafka_bootstrap, settings.topics.specs())
            live = await stack.enter_async_context(
                KafkaLiveExecutors(
                    settings.kafka_bootstrap,
                    settings.topics,
                    store,
                    timeout_s=settings.console_live_timeout_s,
                )
            )
        await run_console(
            store,
            settings.console_host,
            settings.console_port,
            stop,
            live=live,
            channel=live,
            actor_policy=ActorPolicy(
                user_header=settings.console_user_header,
                require_token=settings.console_require_token,
            ),
            action_timeout_s=settings.console_action_timeout_s,
            refresh_interval_s=settings.console_refresh_s,
            # A little past the request's own timeout, so the executor's answer (or the
            # gateway's "timed out") wins the race against the page's fallback.
            live_timeout_s=settings.console_live_timeout_s + 0.5,
        )
