"""A batched Faust agent (``take_events``) that writes tables in the context of other events
(``broker.faust_app.writing_as``) still sees every record once, on the session's broker.

The bug this guards: Faust's buffering processor, suspended while the agent handled a batch, read
the stream's ``current_event`` when it resumed. The agent had left an event of its batch current
(to write a changelog record to that event's partition), so the next record was replaced by that
older one: a recovery's ``succeeded`` report, arriving right after its ``sent``, was lost.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaProducer

from broker.faust_app import WorkerApp, writing_as
from tests.eventually import eventually
from tests.integration.faust_worker import started

RECORDS = 40


async def test_records_arriving_while_a_batch_writes_as_an_older_event_are_all_seen_once(
    kafka_bootstrap: str, worker: WorkerApp
) -> None:
    seen: list[bytes] = []

    async def consume(stream: Any) -> None:
        async for events in stream.take_events(200, 0.02):
            seen.extend(event.value for event in events)
            # Handling the batch takes a while: the next records arrive meanwhile and wait in
            # the buffering processor, their own event current on the stream.
            await asyncio.sleep(0.05)
            with writing_as(stream) as current:
                current(events[0])  # as a table write for the batch's first record

    worker.app.agent(worker.audit, name="probe")(consume)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=0)
    await producer.start()
    try:
        async with started(worker):
            for i in range(RECORDS):
                await producer.send_and_wait(worker.topics.audit, str(i).encode(), key=b"k")
                await asyncio.sleep(0.01 if i % 2 else 0.03)
            expected = [str(i).encode() for i in range(RECORDS)]
            await eventually(lambda: len(seen) >= RECORDS, "every record seen", timeout_s=30)
            await asyncio.sleep(0.5)  # anything more would be a record seen twice
    finally:
        await producer.stop()
    assert seen == expected
