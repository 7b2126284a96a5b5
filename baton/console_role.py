"""The asyncio role ``baton console``, until a stop event is set or a part of it fails
(``runtime.lifecycle``: then ``RoleFailed``, and the process exits non-zero)."""

from __future__ import annotations

import asyncio
import logging

from baton.role_checks import role_checks
from baton.settings import Settings
from broker.admin import ensure_topics
from broker.auto_create import forbid_topic_auto_creation
from broker.idempotence import producer_idempotence
from broker.rebootstrap import rebootstrap_when_brokers_are_lost
from console.access.guard import AccessPolicy
from console.server import run_console
from management.kafka_channel import KafkaLiveExecutors
from runtime.metrics import Metrics
from runtime.readiness import Readiness
from store.console_secret import cookie_secret
from store.database import Store
from store.roles import Role
from store.users import FIRST_ADMIN, first_admin_code

logger = logging.getLogger(__name__)


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
