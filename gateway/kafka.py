"""The gateway's only aiokafka adapter: publishing records and following the command topic."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from types import TracebackType

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import RecordMetadata

from broker.admin import topic_partitions
from broker.idempotence import ProducerSlot, acknowledged
from gateway.publish_watch import PublishWatch
from runtime.clock import monotonic_ms
from runtime.metrics import ErrorKind, Metrics
from streams.codec import decode, encode, record_key
from streams.exceptions import PublishError, RecordError
from streams.records import (
    Command,
    ExecutorRequest,
    ListSessions,
    PollWorkflows,
    Record,
    RecoverExecutor,
)

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT_MS = 15_000
"""The producer's request timeout, and the longest a publish waits for the broker's
acknowledgement (an idempotent producer's batches never expire: ``broker.idempotence``)."""
PRODUCER_BATCH_BYTES = 512 * 1024
"""One partition's open batch (aiokafka ``max_batch_size``; its default is 16 KB): under the
brokers' default 1 MB record batch limit."""
BUILT_BATCH_RECORDS = 64
"""From this many records on, ``publish_batch`` builds the record batches itself (one future
per batch, not one per record: a drain's thousands of disconnects)."""


_PARTITIONER = DefaultPartitioner()
"""The producer's own (``AIOKafkaProducer(partitioner=...)`` is left at its default)."""


class KafkaSink:
    """Publishes Baton records (``EventSink``); ``stop()`` flushes and is idempotent.

    Every publish's outcome is noted in ``watch`` (``gateway.kafka_watchdog``), if given.
    ``idempotent``: the producer asks the broker for a producer id at start, so its retries write
    no duplicates; only where the broker grants one (``broker.idempotence``, whose
    ``ProducerSlot`` replaces a producer the broker no longer takes writes from).
    """

    def __init__(
        self,
        bootstrap: str,
        client_id: str,
        metrics: Metrics,
        watch: PublishWatch | None = None,
        *,
        idempotent: bool = False,
    ) -> None:
        self._metrics = metrics
        self._watch = watch
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._idempotent = idempotent
        self._slot = ProducerSlot(self._new_producer)

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            # Every in-sync replica (Apache Kafka: 2 of 3). Idempotent only where the broker
            # grants a producer id (the role's probe, broker.idempotence; the embedded broker
            # does not): at-least-once either way, consumers fold idempotently.
            acks="all",
            enable_idempotence=self._idempotent,
            linger_ms=5,
            request_timeout_ms=REQUEST_TIMEOUT_MS,
            # aiokafka keeps one open batch per partition, and every send that finds it full
            # waits for it to drain, then races for the next one: thousands of sessions opening
            # or closing at once (a reconnect wave, a drain) all wake on every drained batch,
            # quadratic in the wave. The executor events of an app share a partition: a batch
            # of hundreds of records (~250 bytes each) keeps the rounds few.
            max_batch_size=PRODUCER_BATCH_BYTES,
        )

    async def __aenter__(self) -> KafkaSink:
        await self._slot.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def stop(self) -> None:
        await self._slot.stop()

    async def publish(self, topic: str, record: Record) -> None:
        """Write one record, keyed by its app (or target executor); raises ``PublishError``."""
        await self.publish_batch(topic, (record,))

    async def publish_batch(self, topic: str, records: Sequence[Record]) -> list[int]:
        """Write several records, waiting for all of them; their offsets, in order. Raises
        ``PublishError``."""
        token = None if self._watch is None else self._watch.began(monotonic_ms())
        producer = self._slot.current
        try:
            if len(records) >= BUILT_BATCH_RECORDS:
                futures, positions = await _send_built(producer, topic, records)
            else:
                futures = [
                    await producer.send(topic, encode(r), key=record_key(r)) for r in records
                ]
                positions = [(i, 0) for i in range(len(records))]
            await acknowledged(futures, timeout_s=REQUEST_TIMEOUT_MS / 1000)
            offsets = [futures[i].result().offset + at for i, at in positions]
        except KafkaError as exc:
            self._noted(token, failed=True)
            self._metrics.error(ErrorKind.PUBLISH)
            await self._slot.failed(producer, exc)
            raise PublishError(f"publishing to {topic} failed: {exc}") from exc
        except asyncio.CancelledError:
            if self._watch is not None and token is not None:
                self._watch.abandoned(token)
            raise
        self._noted(token, failed=False)
        self._metrics.events_published.labels(topic=topic).inc(len(records))
        return offsets

    def _noted(self, token: int | None, *, failed: bool) -> None:
        if self._watch is None or token is None:
            return
        if failed:
            self._watch.failed(token, monotonic_ms())
        else:
            self._watch.succeeded(token, monotonic_ms())


class CommandFeed:
    """Follows the command topic from its end, across all partitions, with low fetch latency.

    Every pod reads every command (no consumer group) and acts on those for executors it holds:
    the target executor may sit on any pod, and a command is small.
    """

    def __init__(self, bootstrap: str, topic: str, client_id: str, metrics: Metrics) -> None:
        self._metrics = metrics
        self._bootstrap = bootstrap
        self._topic = topic
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
            auto_offset_reset="latest",
        )
        self._started = False

    async def __aenter__(self) -> CommandFeed:
        await self._consumer.start()
        self._started = True
        assigned = await topic_partitions(self._bootstrap, self._topic)
        if not assigned:
            await self._consumer.stop()
            raise PublishError(f"topic {self._topic} has no partitions: was it created?")
        self._consumer.assign(assigned)
        await self._consumer.seek_to_end(*assigned)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._started:
            self._started = False
            await self._consumer.stop()

    async def commands(self) -> AsyncIterator[Command]:
        """Yield each command record; anything undecodable is logged and skipped."""
        async for message in self._consumer:
            partition = TopicPartition(message.topic, message.partition)
            self._metrics.consumed(
                message.topic,
                message.partition,
                message.offset,
                self._consumer.highwater(partition),
            )
            try:
                record = decode(message.value)
            except RecordError as exc:
                self._metrics.error(ErrorKind.DECODE)
                logger.warning("skipping undecodable command record: %s", exc)
                continue
            if isinstance(record, RecoverExecutor | PollWorkflows | ExecutorRequest | ListSessions):
                yield record


async def _send_built(
    producer: AIOKafkaProducer, topic: str, records: Sequence[Record]
) -> tuple[list[asyncio.Future[RecordMetadata]], list[tuple[int, int]]]:
    """Queue ``records`` as whole record batches, one partition's after another, each record in
    the partition ``send`` would have chosen (the producer's default partitioner, by key), in
    order. Returns the batches' futures and, for each record in order, its batch (an index in
    the futures) and its position in that batch (added to the batch's base offset)."""
    partitions = list(await producer.partitions_for(topic))
    by_partition: dict[int, list[tuple[int, bytes, bytes]]] = {}
    for index, record in enumerate(records):
        key = record_key(record)
        partition = _PARTITIONER(key, partitions, partitions)
        by_partition.setdefault(partition, []).append((index, key, encode(record)))
    futures: list[asyncio.Future[RecordMetadata]] = []
    positions: list[tuple[int, int]] = [(0, 0)] * len(records)
    for partition, items in by_partition.items():
        batch, at = producer.create_batch(), 0
        for index, key, value in items:
            if batch.append(key=key, value=value, timestamp=None) is None:  # full
                futures.append(await producer.send_batch(batch, topic, partition=partition))
                batch, at = producer.create_batch(), 0
                batch.append(key=key, value=value, timestamp=None)  # an empty batch takes any
            positions[index] = (len(futures), at)
            at += 1
        futures.append(await producer.send_batch(batch, topic, partition=partition))
    return futures, positions
