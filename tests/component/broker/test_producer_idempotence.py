"""The idempotence probe (``broker.idempotence``) against the real brokers: the embedded Tansu
broker grants no producer id (it advertises InitProducerId but answers UnknownError), and Baton's
producers built from that answer still write; Apache Kafka grants one, and the gateway's, the
console's and the Faust worker's producers built from that answer are idempotent (each holds a
producer id the broker gave it)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.producer.transaction_manager import PidAndEpoch

from baton.embedded_broker import EmbeddedBroker
from broker.admin import ensure_topics
from broker.faust_app import create_worker_app
from broker.idempotence import IdempotenceSetting, Probe, probe, producer_idempotence
from broker.log_reader import from_beginning
from gateway.kafka import KafkaSink
from management.kafka_channel import KafkaLiveExecutors
from runtime.metrics import Metrics
from store.database import Store, sqlite_url
from streams.codec import encode
from streams.exceptions import ConfigError, PublishError
from streams.ids import AppName, ConnId, ExecutorId, GatewayId
from streams.records import ExecutorDisconnected
from streams.topics import Topics

pytestmark = pytest.mark.timeout(120)


def a_record(n: int) -> ExecutorDisconnected:
    return ExecutorDisconnected(
        app=AppName("idem"),
        gateway=GatewayId("gw-1"),
        executor_id=ExecutorId(f"ex-{n}"),
        conn_id=ConnId(f"c-{n}"),
        close_code=1000,
        close_reason="",
        draining=False,
        ts_ms=1_000 + n,
    )


async def values_on(bootstrap: str, topic: str, count: int) -> list[bytes]:
    """The first ``count`` values of ``topic`` (a reader stops at the end offsets it is told,
    and Tansu tells one past a batch's first record, not its last)."""
    values: list[bytes] = []
    async with from_beginning(bootstrap, topic) as (consumer, _), asyncio.timeout(15):
        while len(values) < count:
            batch = await consumer.getmany(timeout_ms=200)
            values.extend(m.value for messages in batch.values() for m in messages)
    return values


def producer_id(producer: Any) -> int | None:
    """The producer id an aiokafka producer holds (aiokafka keeps it in its transaction manager,
    which only an idempotent producer has); None: not idempotent."""
    manager = producer._txn_manager
    return None if manager is None else manager.producer_id


def the_decision(caplog: pytest.LogCaptureFixture) -> dict[str, Any]:
    """The one line ``producer_idempotence`` logged: its fields, level and message included."""
    (line,) = [r for r in caplog.records if r.name == "broker.idempotence"]
    return {**vars(line), "message": line.getMessage()}


async def probed(
    bootstrap: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> tuple[Topics, Probe, bool]:
    """Fresh topics on ``bootstrap``, the probe's answer there, and the role's decision (its log
    line captured)."""
    topics = Topics(prefix=prefix, partitions=1)
    await ensure_topics(bootstrap, topics.specs())
    found = await probe(bootstrap)
    with caplog.at_level(logging.INFO, logger="broker.idempotence"):
        idempotent = await producer_idempotence(bootstrap, IdempotenceSetting.AUTO)
    return topics, found, idempotent


async def test_the_embedded_broker_grants_no_producer_id_and_producing_still_works(
    embedded_broker: EmbeddedBroker, unique_topic_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    bootstrap = embedded_broker.bootstrap
    topics, found, idempotent = await probed(bootstrap, unique_topic_prefix, caplog)
    async with KafkaSink(bootstrap, "idem-test", Metrics("gateway"), idempotent=idempotent) as sink:
        await sink.publish_batch(topics.executor_events, [a_record(1), a_record(2)])
        assert producer_id(sink._slot.current) is None

    assert (found.granted, found.detail) == (False, "UnknownError")
    assert idempotent is False
    line = the_decision(caplog)
    assert (line["levelno"], line["kafka_idempotent"], line["idempotence_probe"]) == (
        logging.INFO,
        False,
        "InitProducerId: UnknownError",
    )
    assert "acks=all, not idempotent" in line["message"]
    assert await values_on(bootstrap, topics.executor_events, 2) == [
        encode(a_record(1)),
        encode(a_record(2)),
    ]


async def test_an_idempotent_producer_cannot_start_on_the_embedded_broker(
    embedded_broker: EmbeddedBroker,
) -> None:
    """Why the probe: built idempotent regardless, a producer fails to start on Tansu."""
    producer = AIOKafkaProducer(
        bootstrap_servers=embedded_broker.bootstrap, acks="all", enable_idempotence=True
    )
    try:
        with pytest.raises(KafkaError):
            await producer.start()
    finally:
        await producer.stop()


async def test_apache_kafka_grants_one_and_the_producers_are_idempotent(
    apache_kafka_bootstrap: str,
    unique_topic_prefix: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bootstrap = apache_kafka_bootstrap
    topics, found, idempotent = await probed(bootstrap, unique_topic_prefix, caplog)
    async with KafkaSink(bootstrap, "idem-test", Metrics("gateway"), idempotent=idempotent) as sink:
        await sink.publish_batch(topics.executor_events, [a_record(1), a_record(2)])
        gateway_producer_id = producer_id(sink._slot.current)
    worker = create_worker_app(
        bootstrap=bootstrap, topics=topics, datadir=tmp_path, idempotent_producer=idempotent
    )
    faust_producer: Any = worker.app.producer
    await faust_producer.start()
    try:
        await faust_producer.send_and_wait(
            topics.executor_events, b"idem", b"not a record", None, None, None
        )
        worker_producer_id = producer_id(faust_producer._producer)
    finally:
        await faust_producer.stop()
    async with (
        Store(sqlite_url(tmp_path / "baton.db")) as store,
        KafkaLiveExecutors(
            bootstrap, topics, store, timeout_s=1, idempotent_producer=idempotent
        ) as console,
    ):
        console_producer_id = producer_id(console._producer.current)

    assert found.granted, found.detail
    assert found.detail.startswith("producer id ")
    assert idempotent is True
    line = the_decision(caplog)
    assert line["kafka_idempotent"] is True
    assert line["idempotence_probe"].startswith("InitProducerId: producer id ")
    assert "idempotent, acks=all" in line["message"]
    ids = [gateway_producer_id, worker_producer_id, console_producer_id]
    assert all(isinstance(i, int) and i >= 0 for i in ids), ids
    assert len(set(ids)) == 3, ids
    assert await values_on(bootstrap, topics.executor_events, 3) == [
        encode(a_record(1)),
        encode(a_record(2)),
        b"not a record",
    ]


async def test_off_asks_nothing_and_on_requires_a_producer_id(
    embedded_broker: EmbeddedBroker,
) -> None:
    # Nothing listens on port 1: "off" asks nothing, so it does not notice.
    assert not await producer_idempotence("127.0.0.1:1", IdempotenceSetting.OFF)
    with pytest.raises(ConfigError, match="BATON_KAFKA_IDEMPOTENCE=on"):
        await producer_idempotence(embedded_broker.bootstrap, IdempotenceSetting.ON)


async def test_a_broker_that_never_answers_grants_nothing_within_the_bound() -> None:
    """A listener that accepts and says nothing: the probe gives up on time, without raising."""
    accepted: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        started = asyncio.get_running_loop().time()
        found = await probe(f"127.0.0.1:{port}", timeout_s=0.5)
        took_s = asyncio.get_running_loop().time() - started
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()

    assert (found.granted, found.detail) == (False, "no answer within 0.5 s")
    assert took_s < 2.0


async def test_a_gateway_producer_whose_id_collides_is_replaced(
    apache_kafka_bootstrap: str, unique_topic_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A broker that came back empty hands out producer ids the roles' producers still hold: the
    broker then refuses one of the two producers' sequence numbers, and that producer writes
    nothing more. The gateway's sink replaces it with a new producer (a new id) and goes on."""
    bootstrap = apache_kafka_bootstrap
    topics = Topics(prefix=unique_topic_prefix, partitions=1)
    await ensure_topics(bootstrap, topics.specs())
    topic = topics.executor_events
    async with KafkaSink(bootstrap, "idem-test", Metrics("gateway"), idempotent=True) as sink:
        await sink.publish(topic, a_record(1))  # sequence 0 of its producer id
        first_id = producer_id(sink._slot.current)
        # Another producer given the same id (as after the broker's ids restarted) writes
        # sequences 1-5 in one batch; the sink's next batch (sequence 1) is then out of order.
        other = AIOKafkaProducer(
            bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=200
        )
        await other.start()
        try:
            manager = other._txn_manager
            # aiokafka's setter is for the first id only.
            manager._pid_and_epoch = PidAndEpoch(
                first_id, sink._slot.current._txn_manager.producer_epoch
            )
            manager.increment_sequence_number(TopicPartition(topic, 0), 1)
            sent = [await other.send(topic, f"other {n}".encode(), partition=0) for n in range(5)]
            await asyncio.gather(*sent)
        finally:
            await other.stop()

        with (
            caplog.at_level(logging.WARNING, logger="broker.idempotence"),
            pytest.raises(PublishError),
        ):
            await sink.publish(topic, a_record(2))
        await sink.publish(topic, a_record(3))
        second_id = producer_id(sink._slot.current)

    assert first_id is not None
    assert second_id is not None
    assert second_id != first_id
    assert [r.getMessage() for r in caplog.records if r.name == "broker.idempotence"] == [
        "the Kafka producer was lost (OutOfOrderSequenceNumber): a new one took over"
    ]
    values = await values_on(bootstrap, topic, 7)
    assert values[0] == encode(a_record(1))
    assert values[-1] == encode(a_record(3))
    assert encode(a_record(2)) not in values
