"""Reading a topic from its beginning: the replayable log, as batches of decoded records.

Reads every partition from the earliest offset up to the end offsets taken when reading starts
(records produced meanwhile are left for the live projection). No consumer group: a replay does
not disturb the workers' offsets. Undecodable records are counted and skipped.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from broker.admin import topic_partitions
from streams.codec import decode
from streams.exceptions import RecordError
from streams.records import Record

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class ReadProgress:
    """How far a read has come."""

    read: int = 0
    total: int = 0
    """Records in the topic when the read started (end minus beginning offsets)."""
    skipped: int = 0
    """Records that did not decode."""


@asynccontextmanager
async def from_beginning(
    bootstrap: str, topic: str, **config: Any
) -> AsyncIterator[tuple[AIOKafkaConsumer, list[TopicPartition]]]:
    """A started consumer outside any group (``config``: more of its settings), assigned every
    partition of ``topic`` at its earliest offset; yields it with those partitions (none when the
    topic has none) and stops it on exit."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, **config
    )
    await consumer.start()
    try:
        partitions = await topic_partitions(bootstrap, topic)
        if partitions:
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
        yield consumer, partitions
    finally:
        await consumer.stop()


async def read_log(
    bootstrap: str, topic: str, progress: ReadProgress, *, batch_ms: int = 500
) -> AsyncIterator[list[Record]]:
    """Yield the topic's records in batches, oldest first within each partition."""
    async with from_beginning(
        bootstrap, topic, client_id="baton-replay", max_partition_fetch_bytes=8 * 1024 * 1024
    ) as (consumer, partitions):
        if not partitions:
            return
        start = await consumer.beginning_offsets(partitions)
        end = await consumer.end_offsets(partitions)
        progress.total = sum(end[tp] - start[tp] for tp in partitions)
        remaining = [tp for tp in partitions if end[tp] > start[tp]]
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=batch_ms)
            records: list[Record] = []
            for tp, messages in batch.items():
                for message in messages:
                    if message.offset >= end[tp]:
                        continue
                    progress.read += 1
                    try:
                        records.append(decode(message.value))
                    except RecordError:
                        progress.skipped += 1
            if records:
                yield records
            remaining = [tp for tp in remaining if await consumer.position(tp) < end[tp]]
