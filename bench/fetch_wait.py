"""Produce -> consume latency of one record against the consumer's ``fetch_max_wait_ms``.

Does the broker answer a long-poll Fetch as soon as a record arrives, or only when the wait
runs out? For each ``--waits`` value (ms), a plain aiokafka consumer (no group, assigned every
partition of a fresh topic, as the gateway's ``CommandFeed``) follows the topic while a producer
(``acks=all``, ``linger_ms=0``) sends one record at a time at a random phase of the wait, and the
latency from just before the send to the record's arrival is taken. A broker that answers early
gives about the same latency at every wait; one that holds the Fetch gives about half the wait.

Brokers: ``--broker tansu`` (the embedded broker, default) or ``kafka`` (``deploy/local/kafka``,
one node). The baseline is the shortest wait of the run.

Run from the repository root::

    .venv/bin/python bench/fetch_wait.py [--broker tansu|kafka] [--records 40]
        [--waits 500,50]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0] or ".").resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)
elif str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # noqa: E402

from bench.brokers import add_broker_option, running_broker  # noqa: E402
from broker.admin import ensure_topics  # noqa: E402
from streams.topics import TopicSpec  # noqa: E402

PARTITIONS = 8
SETTLE_S = 1.0
RECEIVE_TIMEOUT_S = 5.0
WARM_UP = 3
"""Records sent first and not measured."""


async def latencies_ms(bootstrap: str, wait_ms: int, records: int) -> list[float]:
    """``records`` produce -> consume latencies (ms) with the consumer waiting ``wait_ms``."""
    topic = f"fetch-wait-{wait_ms}-{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [TopicSpec(name=topic, partitions=PARTITIONS)])
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        fetch_max_wait_ms=wait_ms,
        auto_offset_reset="latest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await consumer.start()
    await producer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        await asyncio.sleep(SETTLE_S)  # the consumer is long-polling now
        found: list[float] = []
        for n in range(-WARM_UP, records):  # the first few find leaders still being elected
            # A random phase of the consumer's long poll.
            await asyncio.sleep(random.uniform(0, wait_ms / 1000) + 0.01)
            key = f"k{n}".encode()
            sent = time.perf_counter()
            await producer.send(topic, b"x", key=key)
            async with asyncio.timeout(RECEIVE_TIMEOUT_S):
                while True:
                    message = await consumer.getone()
                    if message.key == key:
                        break
            if n >= 0:
                found.append((time.perf_counter() - sent) * 1000)
        if os.environ.get("FETCH_WAIT_VERBOSE"):
            print(f"  {wait_ms} ms: " + " ".join(f"{ms:.0f}" for ms in found), flush=True)
        return found
    finally:
        await producer.stop()
        await consumer.stop()


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def run(kind: str, waits_ms: list[int], records: int) -> None:
    async with running_broker(kind) as broker:
        print(f"{kind} at {broker.bootstrap}; {records} records per wait", flush=True)
        results = {wait: await latencies_ms(broker.bootstrap, wait, records) for wait in waits_ms}
    baseline = statistics.median(results[min(waits_ms)])
    print(f"load average {os.getloadavg()[0]:.1f} (1 min)")
    print(f"{'fetch_max_wait_ms':>18}{'median':>10}{'p90':>10}{'max':>10}{'x baseline':>12}")
    for wait, found in results.items():
        median = statistics.median(found)
        print(
            f"{wait:>18}{median:9.1f}ms{quantile(found, 0.9):8.1f}ms{max(found):8.1f}ms"
            f"{median / baseline:11.1f}x"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_broker_option(parser)
    parser.add_argument("--records", type=int, default=40, help="records per wait (40)")
    parser.add_argument("--waits", default="500,50", help="fetch_max_wait_ms values (500,50)")
    args = parser.parse_args(argv)
    waits_ms = [int(w) for w in args.waits.split(",")]
    if args.records < 1 or not waits_ms or min(waits_ms) <= 0:
        parser.error("--records and every --waits value must be positive")
    asyncio.run(run(args.broker, waits_ms, args.records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
