"""``deploy/local/kafka`` itself: a 3-node Apache Kafka cluster keeps taking acks=all writes with
one node stopped (replication factor 3, min.insync.replicas 2), and the stopped node comes back on
its ports and storage and rejoins the in-sync replicas."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from broker.admin import cluster_size, ensure_topics, replication_for, topic_partitions
from broker.faust_app import create_worker_app
from streams.topics import Topics
from tests.eventually import assert_eventually
from tests.local_kafka import LocalKafka, running_kafka

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]


@pytest.fixture
def three_nodes(tmp_path: Path) -> Iterator[LocalKafka]:
    with running_kafka(tmp_path / "kafka", nodes=3) as kafka:
        yield kafka


async def create_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 3, 3)])
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=value)
    finally:
        await producer.stop()


async def consume_all(bootstrap: str, topic: str, count: int) -> set[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"g{uuid4().hex[:8]}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        seen: set[bytes] = set()
        while len(seen) < count:
            batch = await consumer.getmany(timeout_ms=1000)
            seen.update(m.value for messages in batch.values() for m in messages if m.value)
        return seen
    finally:
        await consumer.stop()


async def in_sync_replicas(bootstrap: str, topic: str) -> list[list[int]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
        return [sorted(p["isr"]) for p in described["partitions"]]
    finally:
        await admin.close()


async def broker_setting(bootstrap: str, name: str) -> str:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, "1")])
        entries = response.resources[0][4]
        return next(str(entry[1]) for entry in entries if entry[0] == name)
    finally:
        await admin.close()


def test_three_nodes_survive_one_stopped_node(three_nodes: LocalKafka) -> None:
    bootstrap = three_nodes.bootstrap
    hosts = [address.rsplit(":", 1)[0] for address in bootstrap.split(",")]
    assert hosts == ["127.0.0.1"] * 3, bootstrap
    assert asyncio.run(broker_setting(bootstrap, "min.insync.replicas")) == "2"
    assert asyncio.run(broker_setting(bootstrap, "default.replication.factor")) == "3"

    topic = f"t{uuid4().hex[:8]}"
    asyncio.run(create_topic(bootstrap, topic))
    before = [f"before-{i}".encode() for i in range(10)]
    asyncio.run(produce(bootstrap, topic, before))

    three_nodes.stop_node(2)
    during = [f"during-{i}".encode() for i in range(10)]
    asyncio.run(produce(bootstrap, topic, during))  # acks=all: 2 in-sync replicas of 3 suffice
    assert asyncio.run(consume_all(bootstrap, topic, 20)) == set(before + during)
    assert all(2 not in isr for isr in asyncio.run(in_sync_replicas(bootstrap, topic)))

    three_nodes.start_node(2)
    assert three_nodes.bootstrap == bootstrap  # same ports

    def rejoined() -> bool:
        return all(isr == [1, 2, 3] for isr in asyncio.run(in_sync_replicas(bootstrap, topic)))

    assert_eventually(rejoined, timeout_s=60, interval_s=0.5, message="node 2 back in every ISR")
    after = [f"after-{i}".encode() for i in range(5)]
    asyncio.run(produce(bootstrap, topic, after))
    assert asyncio.run(consume_all(bootstrap, topic, 25)) == set(before + during + after)


async def topic_layout(
    bootstrap: str, topic: str, setting: str = "min.insync.replicas"
) -> tuple[int, str]:
    """(replication factor, ``setting``) of ``topic``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
        replication = {len(p["replicas"]) for p in described["partitions"]}
        (response,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic)]
        )
        entries = response.resources[0][4]
        value = next(str(entry[1]) for entry in entries if entry[0] == setting)
    finally:
        await admin.close()
    assert len(replication) == 1, replication
    return replication.pop(), value


def test_baton_creates_its_topics_replicated_on_three_nodes(three_nodes: LocalKafka) -> None:
    """On three brokers every topic of Baton's is on three replicas, two of which must hold an
    acks=all write; the worker's Faust changelogs are replicated the same way."""
    bootstrap = three_nodes.bootstrap
    topics = Topics(prefix=f"rf{uuid4().hex[:6]}.", partitions=2)
    asyncio.run(ensure_topics(bootstrap, topics.specs()))
    for spec in topics.specs():
        assert asyncio.run(topic_layout(bootstrap, spec.name)) == (3, "2"), spec.name
    assert asyncio.run(cluster_size(bootstrap)) == 3
    assert replication_for(asyncio.run(cluster_size(bootstrap))) == 3
    assert replication_for(1) == 1


def test_the_workers_changelogs_are_created_compacted_before_faust_starts(
    three_nodes: LocalKafka, tmp_path: Path
) -> None:
    """``baton worker`` creates its tables' changelogs (and waits for their leaders) before Faust
    starts: compacted, on three replicas, with the source topics' partitions."""
    bootstrap = three_nodes.bootstrap
    topics = Topics(prefix=f"cl{uuid4().hex[:6]}.", partitions=2)
    worker = create_worker_app(bootstrap=bootstrap, topics=topics, datadir=tmp_path, replication=3)
    specs = worker.changelog_specs()
    assert {spec.name for spec in specs} == {
        f"{topics.prefix}worker-{table}-changelog"
        for table in ("liveness", "capture-cursors", "workflows")
    }
    assert asyncio.run(ensure_topics(bootstrap, specs)) == [spec.name for spec in specs]
    for spec in specs:
        assert asyncio.run(topic_layout(bootstrap, spec.name, "cleanup.policy")) == (3, "compact")
        assert len(asyncio.run(topic_partitions(bootstrap, spec.name))) == 2, spec.name
