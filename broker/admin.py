"""Topic administration: the one place ``streams`` talks to the Kafka admin API.

Owns the creation of Baton's topics at start-up, and reading a topic's partitions for the
consumers that assign them by hand (no consumer group). Tansu (the embedded broker) implements
CreateTopics but not CreatePartitions or AlterConfigs, so topics are created once with their final
partition count and configuration, and an existing topic is left exactly as it is.

Run it before any producer, consumer or Faust worker touches these topics: Tansu auto-creates an
unknown topic with 4 partitions as soon as a client asks Metadata for it by name.

Must not import ``gateway``, ``recovery`` or ``console``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError, for_code

from streams.exceptions import BrokerUnreachable
from streams.topics import TopicSpec

logger = logging.getLogger(__name__)

_NO_ERROR = 0
_RETRY_BACKOFF_S = 0.2


async def ensure_topics(
    bootstrap: str, specs: Sequence[TopicSpec], *, timeout_s: float = 15.0
) -> list[str]:
    """Create the topics in ``specs`` that do not exist yet; returns the names it created.

    An existing topic counts as done even if its partition count differs: the broker cannot change
    it, and start-up must not fail on a re-run. Connection errors and retriable broker errors (the
    broker warming up) are retried until ``timeout_s``.

    Args:
        bootstrap: ``host:port`` of a broker (or a comma-separated list of them).
        specs: The topics to create.
        timeout_s: Total time allowed, retries included.

    Raises:
        BrokerUnreachable: Nothing accepted a connection, or answered as Kafka, until the deadline.
        KafkaError: A non-retriable broker error, or the last retriable one at the deadline.
    """
    if not specs:
        return []
    deadline = time.monotonic() + timeout_s
    while True:
        # A plain TCP probe first: aiokafka logs every refused connection at ERROR.
        problem = await connect_problem(bootstrap)
        if problem is None:
            try:
                async with asyncio.timeout(max(deadline - time.monotonic(), 1.0)):
                    created = await _create_missing(bootstrap, specs)
            except KafkaError as exc:
                if not exc.retriable or time.monotonic() + _RETRY_BACKOFF_S >= deadline:
                    if isinstance(exc, KafkaConnectionError):
                        raise _unreachable(bootstrap, "it does not answer as Kafka") from exc
                    raise
                logger.debug("create topics on %s failed (%r); retrying", bootstrap, exc)
            except TimeoutError as exc:
                raise _unreachable(bootstrap, "it does not answer as Kafka") from exc
            else:
                return created
        elif time.monotonic() + _RETRY_BACKOFF_S >= deadline:
            raise _unreachable(bootstrap, problem)
        await asyncio.sleep(_RETRY_BACKOFF_S)


async def missing_topics(bootstrap: str, specs: Sequence[TopicSpec]) -> list[str]:
    """The names in ``specs`` the broker does not hold (all topics are listed, never asked for by
    name: that would create them).

    Raises:
        BrokerUnreachable: nothing accepts a connection at ``bootstrap``.
        KafkaError: the broker did not answer as Kafka.
    """
    problem = await connect_problem(bootstrap)
    if problem is not None:
        raise _unreachable(bootstrap, problem)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    return [spec.name for spec in specs if spec.name not in existing]


async def topic_partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
    """Every partition of ``topic`` (sorted), or none if the topic does not exist.

    Asks Metadata for all topics: asking by name would auto-create a missing topic. A consumer's
    own cached metadata cannot answer this: aiokafka bootstraps with a Metadata request for no
    topic, which Tansu answers with every topic and Apache Kafka (v4+) with none.

    Args:
        bootstrap: ``host:port`` of a broker (or a comma-separated list of them).
        topic: Full topic name.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        described = await admin.describe_topics()
    finally:
        await admin.close()
    numbers = [
        partition["partition"]
        for found in described
        if found["topic"] == topic and found["error_code"] == _NO_ERROR
        for partition in found["partitions"]
    ]
    return [TopicPartition(topic, number) for number in sorted(numbers)]


def _unreachable(bootstrap: str, reason: str) -> BrokerUnreachable:
    return BrokerUnreachable(
        bootstrap,
        reason,
        fix="start Kafka there, or point --kafka HOST:PORT (BATON_KAFKA_BOOTSTRAP) at a running "
        "broker; `baton up` without --kafka runs an embedded one",
    )


async def connect_problem(bootstrap: str, timeout_s: float = 2.0) -> str | None:
    """``None`` if one of the bootstrap addresses accepts a TCP connection, else why not."""
    problem = "no address given"
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            async with asyncio.timeout(timeout_s):
                _, writer = await asyncio.open_connection(host.strip("[]"), int(port))
        except TimeoutError:
            problem = "connecting timed out"
        except socket.gaierror as exc:
            problem = f"cannot resolve {host!r}: {exc.strerror}"
        except OSError as exc:
            problem = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        except ValueError:
            problem = f"{address!r} is not HOST:PORT"
        else:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return None
    return problem


async def _create_missing(bootstrap: str, specs: Sequence[TopicSpec]) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        # list_topics asks Metadata for all topics; asking by name would auto-create them.
        existing = set(await admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        if not missing:
            return []
        brokers = len((await admin.describe_cluster())["brokers"])
        response = await admin.create_topics([_new_topic(spec, brokers) for spec in missing])
        _raise_for_errors(response.topic_errors)
        await _await_leaders(admin, missing)
        logger.info("created topics %s", ", ".join(spec.name for spec in missing))
        return [spec.name for spec in missing]
    finally:
        await admin.close()


async def _await_leaders(admin: AIOKafkaAdminClient, specs: Sequence[TopicSpec]) -> None:
    """Wait until Metadata shows every partition of ``specs`` with a leader.

    Apache Kafka answers CreateTopics once its controller has committed the topics; the brokers
    learn them a moment later, and a role that asks Metadata meanwhile finds no partitions (Tansu
    answers only when they exist). The caller's deadline bounds the wait.
    """
    wanted = {spec.name: spec.partitions for spec in specs}
    while True:
        described = await admin.describe_topics(list(wanted))
        led = {
            topic["topic"]: sum(1 for p in topic["partitions"] if p["leader"] >= 0)
            for topic in described
            if topic["error_code"] == _NO_ERROR
        }
        if all(led.get(name, 0) >= count for name, count in wanted.items()):
            return
        await asyncio.sleep(_RETRY_BACKOFF_S / 4)


MAX_REPLICATION = 3
"""Topics are replicated on up to three brokers; with three, two must be in sync for an acks=all
write to succeed (one broker may be down without losing an acknowledged record)."""


def replication_for(brokers: int) -> int:
    """The replication factor of a new topic on a cluster of ``brokers`` (Tansu: one)."""
    return max(1, min(MAX_REPLICATION, brokers))


def _new_topic(spec: TopicSpec, brokers: int) -> NewTopic:
    replication = replication_for(brokers)
    configs = {} if spec.retention_ms is None else {"retention.ms": str(spec.retention_ms)}
    if spec.compacted:
        configs["cleanup.policy"] = "compact"
    if replication >= MAX_REPLICATION:
        configs["min.insync.replicas"] = str(replication - 1)
    return NewTopic(spec.name, spec.partitions, replication, topic_configs=configs)


async def cluster_size(bootstrap: str) -> int:
    """How many brokers the cluster at ``bootstrap`` has (for the worker's changelog topics)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        return len((await admin.describe_cluster())["brokers"])
    finally:
        await admin.close()


def _raise_for_errors(topic_errors: Sequence[tuple[Any, ...]]) -> None:
    """Raise the first real error of a CreateTopics response; "already exists" is success."""
    for topic, code, *message in topic_errors:
        if code in (_NO_ERROR, TopicAlreadyExistsError.errno):
            continue
        error_class: type[KafkaError] = for_code(code)
        detail = message[0] if message and message[0] else ""
        raise error_class(f"create topic {topic!r}: {detail}")
