"""A client whose every known broker is gone bootstraps again from the servers it was given
(``broker.rebootstrap``), instead of asking the lost broker forever as aiokafka alone does.

Two embedded brokers stand for the cluster's brokers: the client is given both, learns the one it
bootstraps from, and that one stops."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.client import AIOKafkaClient

from baton.embedded_broker import EmbeddedBroker
from broker.admin import ensure_topics
from broker.rebootstrap import rebootstrap_when_brokers_are_lost
from streams.topics import TopicSpec


def known_ports(client: AIOKafkaClient) -> set[int]:
    return {int(broker.port) for broker in client.cluster.brokers()}


async def test_a_client_whose_known_brokers_are_all_gone_bootstraps_again(
    unique_topic_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Restored after the test: the rest of the session's clients are left as they were.
    monkeypatch.setattr(AIOKafkaClient, "_metadata_update", AIOKafkaClient._metadata_update)
    topic = f"{unique_topic_prefix}events"
    async with EmbeddedBroker() as one, EmbeddedBroker() as other:
        brokers = {one.port: one, other.port: other}
        for broker in brokers.values():
            await ensure_topics(broker.bootstrap, [TopicSpec(name=topic, partitions=1)])
        producer = AIOKafkaProducer(
            bootstrap_servers=f"{one.bootstrap},{other.bootstrap}", request_timeout_ms=2_000
        )
        await producer.start()
        try:
            (known,) = known_ports(producer.client)
            await brokers[known].stop()
            (left,) = set(brokers) - {known}

            # aiokafka alone asks only the broker it knows, which is gone.
            assert not await producer.client.force_metadata_update()
            assert known_ports(producer.client) == {known}

            rebootstrap_when_brokers_are_lost()
            rebootstrap_when_brokers_are_lost()  # idempotent: wrapped once
            assert await producer.client.force_metadata_update()
            assert known_ports(producer.client) == {left}
            sent = await producer.send_and_wait(topic, b"after the loss")
            assert sent.offset == 0
        finally:
            await producer.stop()
