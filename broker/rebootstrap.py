"""Kafka clients that go back to their bootstrap servers when every broker they know is gone.

aiokafka learns the cluster's brokers from its bootstrap servers once, at start, and from then on
asks only the brokers named in its last metadata (``aiokafka.client.AIOKafkaClient``). After a
whole cluster restarts, the first answer can name only the first broker back; if that one is then
lost, the client knows no other, asks it forever ("Unable to update metadata from [1]"), and its
producer and consumer group stall although two brokers of three serve. Apache Kafka's Java client
has the same gap and closes it with ``metadata.recovery.strategy=rebootstrap`` (KIP-899).

Owns the one change to aiokafka's behaviour: when a metadata update finds no known broker that
answers, the client bootstraps again from the servers it was given, then updates as usual. Call
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
from aiokafka.errors import KafkaConnectionError

logger = logging.getLogger(__name__)

MetadataUpdate = Callable[[AIOKafkaClient, Any, Iterable[str] | None], Awaitable[bool]]

_PATCHED = "_baton_rebootstraps"
_LAST_ATTEMPT = "_baton_last_rebootstrap"

REBOOTSTRAP_INTERVAL_S = 1.0
"""A client bootstraps again at most this often: while every broker is away its metadata
updates fail every 100 ms, and each bootstrap opens connections that a client closing meanwhile
may leave half open."""


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
        # The bootstrap's own Metadata request names no topic (Apache Kafka then answers none),
        # so its answer alone would empty the view of topics until the update below. Its
        # listeners (a consumer group's coordinator) are told only of that update's whole view:
        # a topic seen to vanish and come back would cost the group a rebalance. The view itself
        # is never swapped out or emptied of brokers (a coordinator lookup asserts it has one).
        view = client.cluster
        listeners, view._listeners = view._listeners, set()
        try:
            await client.bootstrap()
        except KafkaConnectionError:
            return False  # no bootstrap server answers either: the caller retries, as before
        finally:
            view._listeners = listeners | view._listeners
        logger.warning(
            "no known Kafka broker (%s) answered: bootstrapped again from %s",
            ", ".join(known) or "none",
            ", ".join(f"{host}:{port}" for host, port, _ in client.hosts),
        )
        return bool(await update(client, cluster_metadata, topics))

    return metadata_update
