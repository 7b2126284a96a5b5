"""A client that asks about a topic by name does not create it once auto-creation is forbidden
(the embedded broker would create it with 4 partitions); ``ensure_topics`` still creates it with
its own count, and the client then uses it."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka import client as aiokafka_client
from aiokafka.errors import KafkaTimeoutError, UnknownTopicOrPartitionError

from broker.admin import ensure_topics, topic_partitions
from broker.auto_create import forbid_topic_auto_creation
from streams.topics import TopicSpec


async def test_a_producer_waits_for_the_topic_instead_of_creating_it(
    kafka_bootstrap: str, unique_topic_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Restored after the test: the rest of the session's clients are left as they were.
    monkeypatch.setattr(aiokafka_client, "MetadataRequest", aiokafka_client.MetadataRequest)
    forbid_topic_auto_creation()
    forbid_topic_auto_creation()  # idempotent
    topic = f"{unique_topic_prefix}events"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, request_timeout_ms=1_000)
    await producer.start()
    try:
        with pytest.raises((KafkaTimeoutError, UnknownTopicOrPartitionError)):
            await producer.send_and_wait(topic, b"early")
        assert await topic_partitions(kafka_bootstrap, topic) == []

        await ensure_topics(kafka_bootstrap, [TopicSpec(name=topic, partitions=3)])
        await producer.send_and_wait(topic, b"on time")
    finally:
        await producer.stop()
    assert len(await topic_partitions(kafka_bootstrap, topic)) == 3
