"""The embedded Tansu broker, and topic administration against the session's broker (Tansu or
Apache Kafka, see tests/conftest.py)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from baton.embedded_broker import EmbeddedBroker, EmbeddedBrokerError
from broker.admin import ensure_topics, topic_partitions
from streams.topics import TopicSpec

pytestmark = pytest.mark.integration


async def _partition_counts(bootstrap: str, names: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        topics = await admin.describe_topics(names)
    finally:
        await admin.close()
    return {t["topic"]: len(t["partitions"]) for t in topics if t["error_code"] == 0}


_TOPIC_OWN_SETTING = 1
"""DescribeConfigs (v1+) ``config_source`` of a setting made on the topic (DYNAMIC_TOPIC_CONFIG)."""


async def _topic_configs(bootstrap: str, name: str) -> dict[str, tuple[str, int]]:
    """Setting -> (value, source) as the broker describes topic ``name``: Apache Kafka lists every
    setting, defaults included, each with its source; Tansu lists only the settings the topic was
    created with (and calls their source the default)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    finally:
        await admin.close()
    (resource,) = responses[0].resources
    return {entry[0]: (entry[1], entry[3]) for entry in resource[4]}


async def test_broker_answers_metadata(kafka_bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
    finally:
        await admin.close()
    host, port = kafka_bootstrap.split(":")
    assert [(b["host"], b["port"]) for b in cluster["brokers"]] == [(host, int(port))]


async def test_ensure_topics_creates_requested_partitions(
    kafka_bootstrap: str, unique_topic_prefix: str
) -> None:
    specs = [
        TopicSpec(name=f"{unique_topic_prefix}a", partitions=8, retention_ms=86_400_000),
        TopicSpec(name=f"{unique_topic_prefix}b", partitions=3, retention_ms=None),
        TopicSpec(name=f"{unique_topic_prefix}c", partitions=2, compacted=True),
    ]

    await ensure_topics(kafka_bootstrap, specs)

    counts = await _partition_counts(kafka_bootstrap, [s.name for s in specs])
    assert counts == {specs[0].name: 8, specs[1].name: 3, specs[2].name: 2}
    assert (await _topic_configs(kafka_bootstrap, specs[2].name))["cleanup.policy"][0] == "compact"
    assert (await _topic_configs(kafka_bootstrap, specs[0].name))["retention.ms"][0] == "86400000"
    kept = (await _topic_configs(kafka_bootstrap, specs[1].name)).get("retention.ms")
    assert kept is None or kept[1] != _TOPIC_OWN_SETTING, "no retention given: the broker's own"


async def test_ensure_topics_is_idempotent_and_keeps_existing(
    kafka_bootstrap: str, unique_topic_prefix: str
) -> None:
    name = f"{unique_topic_prefix}a"
    await ensure_topics(kafka_bootstrap, [TopicSpec(name=name, partitions=2)])

    # Tansu has no CreatePartitions: a re-run with another count must neither fail nor change it.
    await ensure_topics(kafka_bootstrap, [TopicSpec(name=name, partitions=8)])

    assert (await _partition_counts(kafka_bootstrap, [name])) == {name: 2}


async def test_produce_consume_round_trip(kafka_bootstrap: str, unique_topic_prefix: str) -> None:
    topic = f"{unique_topic_prefix}events"
    await ensure_topics(kafka_bootstrap, [TopicSpec(name=topic, partitions=4)])
    sent = {f"k{i}".encode(): f'{{"n":{i}}}'.encode() for i in range(20)}

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for key, value in sent.items():
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{unique_topic_prefix}group",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    received: dict[bytes, bytes] = {}
    try:
        while len(received) < len(sent):
            batches = await consumer.getmany(timeout_ms=10_000)
            assert batches, f"no records within 10 s; got {len(received)} of {len(sent)}"
            for records in batches.values():
                received.update((r.key, r.value) for r in records if r.key and r.value)
    finally:
        await consumer.stop()
    assert received == sent
    partitions = consumer.assignment() or {TopicPartition(topic, p) for p in range(4)}
    assert {tp.partition for tp in partitions} <= set(range(4))


async def test_stop_is_idempotent_and_ends_the_process(tmp_path: Path) -> None:
    log_path = tmp_path / "tansu.log"
    async with EmbeddedBroker(log_path=log_path) as broker:
        pid = broker.pid
        assert pid is not None
        os.kill(pid, 0)  # alive
        await ensure_topics(broker.bootstrap, [TopicSpec(name="x", partitions=1)])

    await broker.stop()
    await broker.stop()

    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert log_path.read_text().strip(), "the broker's output goes to log_path"


async def test_missing_binary_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CALF_TANSU_BIN", str(tmp_path / "no-such-tansu"))

    with pytest.raises(EmbeddedBrokerError, match="cannot find the Tansu broker binary"):
        await EmbeddedBroker().start()


async def test_taken_port_fails_fast(kafka_bootstrap: str) -> None:
    port = int(kafka_bootstrap.rsplit(":", 1)[1])

    with pytest.raises(EmbeddedBrokerError, match="already in use"):
        await EmbeddedBroker(port=port).start()


async def test_broker_that_exits_reports_its_log(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "tansu"
    fake.write_text("#!/bin/sh\necho 'boom: storage unavailable'\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("CALF_TANSU_BIN", str(fake))

    with pytest.raises(EmbeddedBrokerError, match="exited with code 3") as info:
        await EmbeddedBroker(startup_timeout_s=10).start()

    assert "boom: storage unavailable" in str(info.value)


async def test_a_killed_broker_restarts_on_its_port_empty(tmp_path: Path) -> None:
    async with EmbeddedBroker(log_path=tmp_path / "broker.log") as broker:
        bootstrap = broker.bootstrap
        await ensure_topics(bootstrap, [TopicSpec(name="kept", partitions=2)])
        with pytest.raises(EmbeddedBrokerError, match="is running"):
            await broker.restart()
        assert broker.pid is not None
        os.kill(broker.pid, 9)

        assert await broker.wait() == -9
        assert not broker.running
        await broker.restart()

        assert broker.running
        assert broker.bootstrap == bootstrap
        # Memory storage: empty (asked for every topic: asking by name would create it).
        assert await topic_partitions(bootstrap, "kept") == []
        assert created_again(await ensure_topics(bootstrap, [TopicSpec(name="kept", partitions=2)]))
    log = (tmp_path / "broker.log").read_bytes()
    assert log, "the restarted broker appends to the same log"


def created_again(names: list[str]) -> bool:
    return names == ["kept"]


async def test_a_restart_onto_a_taken_port_fails_in_one_line(tmp_path: Path) -> None:
    broker = EmbeddedBroker(log_path=tmp_path / "broker.log")
    await broker.start()
    try:
        assert broker.pid is not None
        os.kill(broker.pid, 9)
        await broker.wait()
        # Someone else takes the port meanwhile.
        with (
            socket.create_server(("127.0.0.1", broker.port)),
            pytest.raises(EmbeddedBrokerError, match="already in use"),
        ):
            await broker.restart()
        await broker.restart()  # and once it is free again, the restart works
        assert broker.running
    finally:
        await broker.stop()
