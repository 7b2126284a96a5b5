"""``gateway.kafka.KafkaSink`` on a real broker: a large ``publish_batch`` (a drain's disconnects,
queued as whole record batches) puts every record where a single ``publish`` of it would go, in
order."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from broker.admin import ensure_topics
from broker.log_reader import from_beginning
from gateway.kafka import BUILT_BATCH_RECORDS, KafkaSink
from runtime.metrics import Metrics
from streams.codec import decode
from streams.ids import AppName, ConnId, ExecutorId, GatewayId
from streams.records import ExecutorDisconnected
from streams.topics import Topics

APPS = [AppName(f"app-{i}") for i in range(7)]


def disconnect(app: AppName, n: int) -> ExecutorDisconnected:
    return ExecutorDisconnected(
        app=app,
        gateway=GatewayId("gw"),
        executor_id=ExecutorId(f"{app}-exec-{n}"),
        conn_id=ConnId(f"c{n}"),
        close_code=1001,
        close_reason="",
        draining=True,
        ts_ms=n,
    )


async def test_a_large_batch_lands_where_single_publishes_do_in_order(
    kafka_bootstrap: str, unique_topic_prefix: str
) -> None:
    topics = Topics(prefix=unique_topic_prefix, partitions=4)
    await ensure_topics(kafka_bootstrap, topics.specs())
    topic = topics.executor_events
    count = 3_000  # several record batches (512 KB) in all
    batch = [disconnect(APPS[n % len(APPS)], n) for n in range(1, count + 1)]
    assert len(batch) >= BUILT_BATCH_RECORDS
    async with KafkaSink(kafka_bootstrap, "test-sink", Metrics("gateway")) as sink:
        for app in APPS:
            await sink.publish(topic, disconnect(app, 0))  # one record at a time: send()
        await sink.publish_batch(topic, batch)

    partition_of: dict[AppName, set[int]] = defaultdict(set)
    order: dict[AppName, list[int]] = defaultdict(list)
    async with from_beginning(kafka_bootstrap, topic) as (consumer, partitions):
        seen = 0
        async with asyncio.timeout(30):
            while seen < count + len(APPS):
                fetched = await consumer.getmany(*partitions, timeout_ms=500)
                for tp, messages in fetched.items():
                    for message in messages:
                        record = decode(message.value or b"")
                        assert isinstance(record, ExecutorDisconnected)
                        partition_of[record.app].add(tp.partition)
                        order[record.app].append(record.ts_ms)
                        seen += 1
    assert seen == count + len(APPS)
    assert all(len(p) == 1 for p in partition_of.values()), partition_of  # one per app
    assert len(set().union(*partition_of.values())) > 1  # the apps spread over partitions
    for app in APPS:
        assert order[app] == sorted(order[app])
        assert len(order[app]) == 1 + sum(1 for r in batch if r.app == app)
