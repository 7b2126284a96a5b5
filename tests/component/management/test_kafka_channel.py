"""The console's Kafka channel against the session's broker: its reply reader answers a request,
a reader that dies fails the channel (so that the console stops) instead of vanishing, and a stop
leaves no task running."""

from __future__ import annotations

import asyncio
from typing import Any

from broker.admin import ensure_topics
from management.kafka_channel import KafkaLiveExecutors
from runtime.clock import wall_ms
from store.database import Store
from streams.ids import AppName, ExecutorId, GatewayId, RequestId, WorkflowId
from streams.records import ExecutorReply, ExecutorRequest, RequestKind
from streams.topics import Topics
from tests.component.gateway.fakes import CommandSender, EventLog
from tests.eventually import eventually


async def _topics(bootstrap: str, prefix: str) -> Topics:
    topics = Topics(prefix=prefix, partitions=2)
    await ensure_topics(bootstrap, topics.specs())
    return topics


async def test_the_reply_reader_answers_a_request(
    kafka_bootstrap: str, unique_topic_prefix: str, seeded_store: Store
) -> None:
    topics = await _topics(kafka_bootstrap, unique_topic_prefix)
    request = ExecutorRequest(
        request_id=RequestId("req-1"),
        app=AppName("orders"),
        target=ExecutorId("e1"),
        target_gateway=GatewayId("gw-1"),
        kind=RequestKind.GET_WORKFLOW,
        workflow_id=WorkflowId("wf-001"),
        issued_at_ms=wall_ms(),
        timeout_ms=5_000,
    )
    reply = ExecutorReply(
        request_id=request.request_id,
        app=request.app,
        executor_id=request.target,
        gateway=GatewayId("gw-1"),
        ok=True,
        ts_ms=wall_ms(),
    )
    commands = EventLog(kafka_bootstrap, topics.commands)
    gateway = CommandSender(kafka_bootstrap, topics.replies)
    await commands.start()
    await gateway.start()
    try:
        async with KafkaLiveExecutors(
            kafka_bootstrap, topics, seeded_store, timeout_s=5
        ) as channel:
            asking = asyncio.create_task(channel.send(request, 10))
            await eventually(lambda: commands.of_type(ExecutorRequest), "the request is sent")
            await gateway.send(reply)
            assert await asyncio.wait_for(asking, 10) == reply
            assert channel.tasks.running == {"console channel: replies"}
    finally:
        await gateway.stop()
        await commands.stop()
    assert channel.tasks.running == frozenset()
    assert not channel.failed.is_set()


async def test_a_dead_reply_reader_fails_the_channel(
    kafka_bootstrap: str, unique_topic_prefix: str, seeded_store: Store
) -> None:
    topics = await _topics(kafka_bootstrap, unique_topic_prefix)
    channel = KafkaLiveExecutors(kafka_bootstrap, topics, seeded_store, timeout_s=1)
    async with channel:
        # What a fatal consumer error looks like to the reader: its consumer stops under it.
        consumer: Any = channel._consumer
        await consumer.stop()
        await asyncio.wait_for(channel.failed.wait(), 10)
        assert channel.failure is not None
    await channel.stop()  # idempotent
    assert channel.tasks.running == frozenset()
