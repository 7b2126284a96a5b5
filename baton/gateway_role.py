"""The asyncio role ``baton gateway``, until a stop event is set or a part of it fails
(``runtime.lifecycle``: then ``RoleFailed``, and the process exits non-zero).

Its own module, apart from ``baton.console_role``: a gateway process holds thousands of sessions,
and must not carry the console's web stack (Starlette, Jinja2, the dashboard: ~20 MB of RSS).
"""

from __future__ import annotations

import asyncio

from baton.role_checks import role_checks
from baton.settings import Settings
from broker.admin import ensure_topics
from broker.auto_create import forbid_topic_auto_creation
from broker.idempotence import producer_idempotence
from broker.rebootstrap import rebootstrap_when_brokers_are_lost
from gateway.config import GatewayConfig
from gateway.keys import StoreKeys
from gateway.publish_watch import STALL_MS
from gateway.server import Gateway
from runtime.lifecycle import run_until
from runtime.metrics import Metrics
from runtime.probes_http import ProbeRoutes
from runtime.readiness import Readiness
from store.database import Store
from streams.ids import GatewayId


def gateway_config(settings: Settings, *, idempotent_producer: bool = False) -> GatewayConfig:
    """The gateway's config from ``settings``; ``idempotent_producer``: the broker's answer at
    start (``broker.idempotence.producer_idempotence``)."""
    return GatewayConfig(
        gateway_id=GatewayId(settings.gateway_id),
        kafka_bootstrap=settings.require_kafka(),
        topics=settings.topics,
        host=settings.gateway_host,
        port=settings.gateway_port,
        ping_interval_s=settings.ping_interval_s,
        ping_timeout_s=settings.ping_timeout_s,
        tls=settings.tls,
        heartbeat_interval_s=settings.heartbeat_interval_s,
        limits=settings.gateway_limits,
        client_address_header=settings.gateway_client_address_header,
        shed_when_cut_off=settings.gateway_shed_s > 0,
        # 0 (never shed): the pod still reports unready after the default stall.
        kafka_stall_ms=int(settings.gateway_shed_s * 1000) or STALL_MS,
        idempotent_producer=idempotent_producer,
    )


async def run_gateway(settings: Settings, stop: asyncio.Event) -> None:
    """Serve executors (and ``/healthz``, ``/readyz`` on the same port) until ``stop`` is set,
    then drain."""
    forbid_topic_auto_creation()
    rebootstrap_when_brokers_are_lost()
    bootstrap = settings.require_kafka()
    await ensure_topics(bootstrap, settings.topics.specs())
    idempotent = await producer_idempotence(bootstrap, settings.kafka_idempotence)
    store = Store(settings.store_url())
    async with store:
        readiness = Readiness("gateway", role_checks(settings, store))
        gateway = Gateway(
            gateway_config(settings, idempotent_producer=idempotent),
            StoreKeys(store),
            ProbeRoutes.of(readiness),
            Metrics("gateway"),
        )
        readiness.watch(gateway.liveness)
        if settings.gateway_shed_s > 0:
            readiness.add_check("kafka_writes", gateway.watchdog.check)
        async with readiness, gateway:
            await run_until(stop, gateway)
