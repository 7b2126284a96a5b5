"""The embedded broker's own memory growth: what Tansu (memory storage) grows by per request,
per record batch and per byte, apart from anything Baton writes.

Each scenario runs its own embedded broker (``baton.embedded_broker``), side by side for
``--minutes``, with one kind of client traffic; every ``--every`` seconds the brokers' RSS is
sampled, and the least-squares slope after ``--warmup`` minutes is printed per scenario, in MB
per day, with the slope of ``alone`` (no client) taken off as the baseline:

- ``alone``: no client at all;
- ``fetch``: one consumer without a group long-polling an empty partition, ``fetch_max_wait_ms``
  20 (the gateway's command feed, the console's reply channel);
- ``group``: one consumer in a group (heartbeats every 1 s, ``fetch_max_wait_ms`` 50), committing
  the same offset every 2.8 s (an idle Faust worker);
- ``connections``: a fresh admin client every second listing the topics (a readiness check);
- ``batches``: one small record (``--record-bytes``) sent every 0.1 s, each its own batch;
- ``batched``: the same records, ten to a batch every 1 s (same bytes, a tenth of the batches).

The two produce scenarios give what one stored batch and one stored byte cost in RSS, so that a
topic's bytes a day (``bench/soak.py``) can be turned into the broker's growth.

Run from the repository root::

    .venv/bin/python bench/broker_idle.py [--minutes 8] [--every 5]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's directory leads sys.path: put the repository root there instead.
if sys.path and Path(sys.path[0] or ".").resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)
elif str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Coroutine  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402
from aiokafka.structs import OffsetAndMetadata  # noqa: E402

from baton.embedded_broker import EmbeddedBroker  # noqa: E402
from bench.procstat import rss_bytes  # noqa: E402
from bench.soak import slope_per_hour  # noqa: E402

MB = 1024 * 1024
TOPIC = "idle"


@dataclass(slots=True)
class Scenario:
    """One broker and the traffic sent to it."""

    name: str
    traffic: Callable[[str, Scenario], Coroutine[Any, Any, None]] | None
    broker: EmbeddedBroker = field(default_factory=EmbeddedBroker)
    samples: list[tuple[float, float]] = field(default_factory=list)
    """(monotonic time, RSS MB)."""
    batches: int = 0
    records: int = 0
    bytes_sent: int = 0


async def create_topic(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()


async def fetch(bootstrap: str, scenario: Scenario) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=20
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(TOPIC, 0)])
        while True:
            await consumer.getmany(timeout_ms=1000)
    finally:
        await consumer.stop()


async def group(bootstrap: str, scenario: Scenario) -> None:
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id="idle-group",
        enable_auto_commit=False,
        fetch_max_wait_ms=50,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    tp = TopicPartition(TOPIC, 0)
    try:
        next_commit = time.monotonic()
        while True:
            await consumer.getmany(timeout_ms=200)
            if time.monotonic() >= next_commit and tp in consumer.assignment():
                await consumer.commit({tp: OffsetAndMetadata(0, "")})
                next_commit = time.monotonic() + 2.8
    finally:
        await consumer.stop()


async def connections(bootstrap: str, scenario: Scenario) -> None:
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.list_topics()
        finally:
            await admin.close()
        await asyncio.sleep(1.0)


def produce(
    per_batch: int, every_s: float, record_bytes: int
) -> Callable[[str, Scenario], Coroutine[Any, Any, None]]:
    async def run(bootstrap: str, scenario: Scenario) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
        await producer.start()
        value = b"x" * record_bytes
        try:
            while True:
                batch = producer.create_batch()
                for _ in range(per_batch):
                    batch.append(key=None, value=value, timestamp=None)
                await (await producer.send_batch(batch, TOPIC, partition=0))
                scenario.batches += 1
                scenario.records += per_batch
                scenario.bytes_sent += per_batch * record_bytes
                await asyncio.sleep(every_s)
        finally:
            await producer.stop()

    return run


async def sample(scenarios: list[Scenario], every_s: float, until: float) -> None:
    while time.monotonic() < until:
        now = time.monotonic()
        for s in scenarios:
            if s.broker.pid is not None:
                s.samples.append((now, rss_bytes(s.broker.pid) / MB))
        await asyncio.sleep(every_s)


async def run(args: argparse.Namespace) -> None:
    scenarios = [
        Scenario("alone", None),
        Scenario("fetch", fetch),
        Scenario("group", group),
        Scenario("connections", connections),
        Scenario("batches", produce(1, 0.1, args.record_bytes)),
        Scenario("batched", produce(10, 1.0, args.record_bytes)),
    ]
    async with contextlib.AsyncExitStack() as stack:
        for s in scenarios:
            await stack.enter_async_context(s.broker)
            await create_topic(s.broker.bootstrap)
        start = time.monotonic()
        tasks = [
            asyncio.create_task(s.traffic(s.broker.bootstrap, s))
            for s in scenarios
            if s.traffic is not None
        ]
        try:
            await sample(scenarios, args.every, start + args.minutes * 60)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    report(scenarios, start + args.warmup * 60, args)


def report(scenarios: list[Scenario], warm: float, args: argparse.Namespace) -> None:
    print(
        f"== embedded broker (Tansu, memory storage), {args.minutes:.0f} min per scenario side by "
        f"side, RSS every {args.every:.0f} s, slope after {args.warmup:.0f} min; load "
        f"{os.getloadavg()} =="
    )
    slopes = {
        s.name: slope_per_hour([p for p in s.samples if p[0] >= warm]) * 24 for s in scenarios
    }
    base = slopes["alone"]
    elapsed_s = args.minutes * 60
    for s in scenarios:
        first, last = s.samples[0][1], s.samples[-1][1]
        extra = slopes[s.name] - base
        line = (
            f"{s.name:<11} RSS {first:6.1f} -> {last:6.1f} MB, slope {slopes[s.name]:+8.1f} MB/day"
            f" ({extra:+8.1f} over alone)"
        )
        if s.batches:
            per_day = s.batches / elapsed_s * 86_400
            line += (
                f" | {s.batches} batches of {s.records // s.batches} records, {s.bytes_sent} bytes"
                f" sent: {extra * MB / per_day:.0f} bytes of RSS per batch"
            )
        print(line)
    print(
        "per batch and per byte (batches vs batched: same bytes, ten times the batches): "
        f"{_split(scenarios, slopes, elapsed_s)}"
    )


def _split(scenarios: list[Scenario], slopes: dict[str, float], elapsed_s: float) -> str:
    """Solve ``extra RSS/day = batches/day * per_batch + bytes/day * per_byte`` from the two
    produce scenarios."""
    one = next(s for s in scenarios if s.name == "batches")
    ten = next(s for s in scenarios if s.name == "batched")
    scale = 86_400 / elapsed_s
    b1, y1 = one.batches * scale, one.bytes_sent * scale
    b2, y2 = ten.batches * scale, ten.bytes_sent * scale
    e1 = (slopes["batches"] - slopes["alone"]) * MB
    e2 = (slopes["batched"] - slopes["alone"]) * MB
    det = b1 * y2 - b2 * y1
    if det == 0:
        return "n/a"
    per_batch = (e1 * y2 - e2 * y1) / det
    per_byte = (b1 * e2 - b2 * e1) / det
    return f"~{per_batch:.0f} bytes per batch + ~{per_byte:.2f} bytes per byte of value"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=1.0, help="minutes left out of the slope")
    parser.add_argument("--record-bytes", type=int, default=200, help="value size of a record")
    args = parser.parse_args(argv)
    if args.warmup >= args.minutes:
        parser.error("--warmup must be shorter than --minutes")
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
