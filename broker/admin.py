"""Topic administration: the one place ``streams`` talks to the Kafka admin API.

Owns the creation of Baton's topics at start-up. Tansu (the embedded broker) implements
CreateTopics but not CreatePartitions or AlterConfigs, so topics are created once with their final
partition count and configuration, and an existing topic is left exactly as it is.

Run it before any producer, consumer or Faust worker touches these topics: Tansu auto-creates an
unknown topic with 4 partitions as soon as a client asks Metadata for it by name.

Must not import ``gateway``, ``recovery`` or ``console``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from streams.topics import TopicSpec

logger = logging.getLogger(__name__)

_NO_ERROR = 0
_RETRY_BACKOFF_S = 0.2


async def ensure_topics(
    bootstrap: str, specs: Sequence[TopicSpec], *, timeout_s: float = 15.0
) -> None:
    """Create the topics in ``specs`` that do not exist yet.

    An existing topic counts as done even if its partition count differs: the broker cannot change
    it, and start-up must not fail on a re-run. Connection errors and retriable broker errors (the
    broker warming up) are retried until ``timeout_s``.

    Args:
        bootstrap: ``host:port`` of a broker.
        specs: The topics to create.
        timeout_s: Total time allowed, retries included.

    Raises:
        KafkaError: A non-retriable broker error, or the last retriable one at the deadline.
    """
    if not specs:
        return
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await _create_missing(bootstrap, specs)
        except KafkaError as exc:
            if not exc.retriable or time.monotonic() + _RETRY_BACKOFF_S >= deadline:
                raise
            logger.debug("create topics on %s failed (%r); retrying", bootstrap, exc)
            await asyncio.sleep(_RETRY_BACKOFF_S)
        else:
            return


async def _create_missing(bootstrap: str, specs: Sequence[TopicSpec]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        # list_topics asks Metadata for all topics; asking by name would auto-create them.
        existing = set(await admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        if not missing:
            return
        response = await admin.create_topics([_new_topic(spec) for spec in missing])
        _raise_for_errors(response.topic_errors)
        logger.info("created topics %s", ", ".join(spec.name for spec in missing))
    finally:
        await admin.close()


def _new_topic(spec: TopicSpec) -> NewTopic:
    configs = {} if spec.retention_ms is None else {"retention.ms": str(spec.retention_ms)}
    # Tansu is a single node: replication factor 1 is the only valid value.
    return NewTopic(spec.name, spec.partitions, 1, topic_configs=configs)


def _raise_for_errors(topic_errors: Sequence[tuple[Any, ...]]) -> None:
    """Raise the first real error of a CreateTopics response; "already exists" is success."""
    for topic, code, *message in topic_errors:
        if code in (_NO_ERROR, TopicAlreadyExistsError.errno):
            continue
        error_class: type[KafkaError] = for_code(code)
        detail = message[0] if message and message[0] else ""
        raise error_class(f"create topic {topic!r}: {detail}")
