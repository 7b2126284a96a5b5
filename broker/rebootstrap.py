"""Kafka clients that go back to their bootstrap servers when every broker they know is gone.

aiokafka learns the cluster's brokers from its bootstrap servers once, at start, and from then on
asks only the brokers named in its last metadata (``aiokafka.client.AIOKafkaClient``). After a
whole cluster restarts, the first answer can name only the first broker back; if that one is then
lost, the client knows no other, asks it forever ("Unable to update metadata from [1]"), and its
producer and consumer group stall although two brokers of three serve. Apache Kafka's Java client
has the same gap and closes it with ``metadata.recovery.strategy=rebootstrap`` (KIP-899).

Owns the one change to aiokafka's behaviour: when a metadata update finds no known broker that
answers, the client asks the same of the servers it was given at start (at most once a second),
and takes the first answer that names brokers as its new view of the cluster. Call
:func:`rebootstrap_when_brokers_are_lost` once per process, before any client starts (every
aiokafka client of the process, Faust's included, gets it). Must not import ``gateway``,
``recovery`` or ``console``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiokafka.client import AIOKafkaClient

from broker.metadata import ask_bootstrap_servers, metadata_request

logger = logging.getLogger(__name__)

MetadataUpdate = Callable[[AIOKafkaClient, Any, Iterable[str] | None], Awaitable[bool]]

_PATCHED = "_baton_rebootstraps"
_LAST_ATTEMPT = "_baton_last_rebootstrap"

REBOOTSTRAP_INTERVAL_S = 1.0
"""A client bootstraps again at most this often: while every broker is away its metadata
updates fail every 100 ms, and each attempt opens a connection to every bootstrap server."""


def rebootstrap_when_brokers_are_lost() -> None:
    """Make every aiokafka client of this process bootstrap again when none of the brokers it
    knows answers a metadata request. Idempotent.

    Raises:
        RuntimeError: this aiokafka no longer updates metadata where it did
            (``AIOKafkaClient._metadata_update``), so the change would silently do nothing.
    """
    current = getattr(AIOKafkaClient, "_metadata_update", None)
    if current is None or not callable(current):
        raise RuntimeError("AIOKafkaClient._metadata_update is gone: cannot rebootstrap")
    if getattr(current, _PATCHED, False):
        return
    update = _rebootstrapping(current)
    setattr(update, _PATCHED, True)
    AIOKafkaClient._metadata_update = update


def _rebootstrapping(update: MetadataUpdate) -> MetadataUpdate:
    async def metadata_update(
        client: AIOKafkaClient, cluster_metadata: Any, topics: Iterable[str] | None
    ) -> bool:
        if await update(client, cluster_metadata, topics):
            return True
        now = time.monotonic()
        if now - getattr(client, _LAST_ATTEMPT, -REBOOTSTRAP_INTERVAL_S) < REBOOTSTRAP_INTERVAL_S:
            return False  # tried a moment ago: the caller retries every 100 ms meanwhile
        setattr(client, _LAST_ATTEMPT, now)
        known = sorted(str(broker.nodeId) for broker in client.cluster.brokers())
        # Not ``AIOKafkaClient.bootstrap``: its request names no topic, so its answer alone would
        # empty the client's view of topics; and see ``broker.metadata``.
        servers = [(host, port) for host, port, _ in client.hosts]
        request = metadata_request(None if topics is None else list(topics))
        answered = await ask_bootstrap_servers(servers, request, _connection_options(client))
        if answered is None:
            return False  # no bootstrap server answers either: the caller retries, as before
        server, metadata = answered
        # The whole update at once, as a known broker's answer would have been: the view's
        # listeners (a consumer group's coordinator) never see a topic vanish and come back.
        cluster_metadata.update_metadata(metadata)
        logger.warning(
            "no known Kafka broker (%s) answered: bootstrapped again from %s",
            ", ".join(known) or "none",
            server,
        )
        return True

    return metadata_update


def _connection_options(client: AIOKafkaClient) -> dict[str, Any]:
    """The options the client opens its own connections with (``AIOKafkaClient._get_conn``)."""
    return {
        "client_id": client._client_id,
        "request_timeout_ms": client._request_timeout_ms,
        "ssl_context": client._ssl_context,
        "security_protocol": client._security_protocol,
        "max_idle_ms": client._connections_max_idle_ms,
        "sasl_mechanism": client._sasl_mechanism,
        "sasl_plain_username": client._sasl_plain_username,
        "sasl_plain_password": client._sasl_plain_password,
        "sasl_kerberos_service_name": client._sasl_kerberos_service_name,
        "sasl_kerberos_domain_name": client._sasl_kerberos_domain_name,
        "sasl_oauth_token_provider": client._sasl_oauth_token_provider,
    }
