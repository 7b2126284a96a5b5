"""A client whose every known broker is gone bootstraps again from the servers it was given
(``broker.rebootstrap``), instead of asking the lost broker forever as aiokafka alone does.

The client is given two bootstrap servers: an embedded broker of its own, which it learns first
and which then stops, and the session's broker (also in ``KAFKA_CI_TESTS``: Apache Kafka answers a
bootstrap's Metadata request without topics, Tansu with all of them). The client's own view of the
cluster changes once, whole: a topic that vanished from it for a moment would cost a consumer group
a rebalance."""

from __future__ import annotations

import asyncio
from functools import partial

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka import client as aiokafka_client
from aiokafka.client import AIOKafkaClient
from aiokafka.conn import collect_hosts

from baton.embedded_broker import EmbeddedBroker
from broker.admin import ensure_topics
from broker.rebootstrap import rebootstrap_when_brokers_are_lost
from streams.topics import TopicSpec


def known_ports(client: AIOKafkaClient) -> set[int]:
    return {int(broker.port) for broker in client.cluster.brokers()}


async def test_a_client_whose_known_brokers_are_all_gone_bootstraps_again(
    kafka_bootstrap: str, unique_topic_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Restored after the test: the rest of the session's clients are left as they were.
    monkeypatch.setattr(AIOKafkaClient, "_metadata_update", AIOKafkaClient._metadata_update)
    # The bootstrap servers in the order given (aiokafka shuffles them): the lost one first.
    monkeypatch.setattr(aiokafka_client, "collect_hosts", partial(collect_hosts, randomize=False))
    topic = f"{unique_topic_prefix}events"
    session_port = int(kafka_bootstrap.rsplit(":", 1)[1])
    async with EmbeddedBroker() as lost:
        for bootstrap in (lost.bootstrap, kafka_bootstrap):
            await ensure_topics(bootstrap, [TopicSpec(name=topic, partitions=1)])
        producer = AIOKafkaProducer(
            bootstrap_servers=f"{lost.bootstrap},{kafka_bootstrap}", request_timeout_ms=2_000
        )
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"before the loss")
            assert known_ports(producer.client) == {lost.port}
            views: list[set[str]] = []  # the topics of each update of the client's own view
            producer.client.cluster.add_listener(lambda view: views.append(set(view.topics())))
            await lost.stop()

            # aiokafka alone asks only the broker it knows, which is gone.
            assert not await producer.client.force_metadata_update()
            assert known_ports(producer.client) == {lost.port}

            rebootstrap_when_brokers_are_lost()
            rebootstrap_when_brokers_are_lost()  # idempotent: wrapped once
            assert await producer.client.force_metadata_update()
            assert known_ports(producer.client) == {session_port}
            assert views
            assert all(topic in seen for seen in views), views
            sent = await producer.send_and_wait(topic, b"after the loss")
            assert sent.offset == 0  # the session broker's log of the topic
        finally:
            await producer.stop()


async def test_a_rebootstrap_that_finds_no_broker_leaves_the_view_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every broker away: the attempt fails, and meanwhile the client's view still names its
    brokers (a consumer group's coordinator lookup, running beside it, asserts that it does)."""
    monkeypatch.setattr(AIOKafkaClient, "_metadata_update", AIOKafkaClient._metadata_update)
    rebootstrap_when_brokers_are_lost()
    async with EmbeddedBroker() as only:
        producer = AIOKafkaProducer(bootstrap_servers=only.bootstrap, request_timeout_ms=2_000)
        await producer.start()
        try:
            await only.stop()
            update = asyncio.ensure_future(producer.client.force_metadata_update())
            while not update.done():
                assert producer.client.get_random_node() is not None
                await asyncio.sleep(0)
            assert not await update
            assert known_ports(producer.client) == {only.port}
        finally:
            await producer.stop()
