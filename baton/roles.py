"""The asyncio roles ``baton gateway`` and ``baton console``, each until a stop event is set or
a part of it fails (``runtime.lifecycle``: then ``RoleFailed``, and the process exits non-zero)."""

from __future__ import annotations

import asyncio
import logging

from baton.settings import Settings
from broker.admin import ensure_topics
from broker.auto_create import forbid_topic_auto_creation
from broker.idempotence import producer_idempotence
from broker.reachability import kafka_check
from broker.rebootstrap import rebootstrap_when_brokers_are_lost
from console.access.guard import AccessPolicy
from console.server import run_console
from gateway.config import GatewayConfig
from gateway.keys import StoreKeys
from gateway.publish_watch import STALL_MS
from gateway.server import Gateway
from management.kafka_channel import KafkaLiveExecutors
from runtime.lifecycle import run_until
from runtime.metrics import Metrics
from runtime.probes_http import ProbeRoutes
from runtime.readiness import Check, Readiness
from store.console_secret import cookie_secret
from store.database import Store
from store.reachability import store_check
from store.roles import Role
from store.users import FIRST_ADMIN, first_admin_code
from streams.ids import GatewayId

logger = logging.getLogger(__name__)


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


def role_checks(settings: Settings, store: Store) -> dict[str, Check]:
    """What a role's readiness needs: its broker with Baton's topics (if it has one) and its
    store."""
    checks: dict[str, Check] = {}
    if settings.kafka_bootstrap is not None:
        names = [spec.name for spec in settings.topics.specs()]
        checks["kafka"] = kafka_check(settings.kafka_bootstrap, names)
    checks["store"] = store_check(store)
    return checks


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


async def console_access(store: Store, settings: Settings) -> AccessPolicy:
    """The console's access policy, with the deployment's cookie secret; on a console with no
    users yet, also makes the first admin and logs, once, a one-time sign-in link for them."""
    async with store.sessionmaker.begin() as session:
        secret = await cookie_secret(session)
        code = await first_admin_code(session)
    if code is not None:
        host = (
            "127.0.0.1" if settings.console_host in ("0.0.0.0", "::", "") else settings.console_host
        )
        logger.warning(
            "first start: sign in as %s with this one-time link (valid 24 h; `baton users link "
            "%s` makes another): %s://%s:%d/signin?code=%s",
            FIRST_ADMIN,
            FIRST_ADMIN,
            "http" if settings.tls is None else "https",
            host,
            settings.console_port,
            code,
        )
    return AccessPolicy(
        cookie_secret=secret,
        session_lifetime_s=settings.console_session_hours * 3_600,
        secure_cookies=settings.tls is not None,
        proxy_user_header=settings.console_user_header,
        proxy_user_role=Role.parse(settings.console_user_header_role),
        viewers_see_payloads=settings.console_viewer_payloads,
    )


async def run_console_role(settings: Settings, stop: asyncio.Event) -> None:
    """Serve the HTTP API and the dashboard until ``stop`` is set.

    With a broker, workflow details are asked of live executors through the gateways; without
    one (``baton console`` alone, on a store) everything is served from the store. The Kafka
    channel is started and stopped by the console app's lifespan, with the rest of its
    background work.
    """
    forbid_topic_auto_creation()
    rebootstrap_when_brokers_are_lost()
    metrics = Metrics("console")
    async with Store(settings.store_url()) as store:
        live: KafkaLiveExecutors | None = None
        readiness = Readiness("console", role_checks(settings, store))
        if settings.kafka_bootstrap is not None:
            await ensure_topics(settings.kafka_bootstrap, settings.topics.specs())
            live = KafkaLiveExecutors(
                settings.kafka_bootstrap,
                settings.topics,
                store,
                timeout_s=settings.console_live_timeout_s,
                metrics=metrics,
                idempotent_producer=await producer_idempotence(
                    settings.kafka_bootstrap, settings.kafka_idempotence
                ),
            )
        await run_console(
            store,
            settings.console_host,
            settings.console_port,
            stop,
            tls=settings.tls,
            live=live,
            channel=live,
            services=(readiness,) if live is None else (live, readiness),
            readiness=readiness,
            access=await console_access(store, settings),
            oidc=settings.oidc,
            action_timeout_s=settings.console_action_timeout_s,
            refresh_interval_s=settings.console_refresh_s,
            # A little past the request's own timeout, so the executor's answer (or the
            # gateway's "timed out") wins the race against the page's fallback.
            live_timeout_s=settings.console_live_timeout_s + 0.5,
            metrics=metrics,
            dbos_conductor_metrics=settings.console_dbos_conductor_metrics,
        )
