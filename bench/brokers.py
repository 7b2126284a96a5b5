"""The broker a benchmark runs on: the embedded default (Tansu) or Apache Kafka (issue 12: the
limits are measured on both).

``--broker tansu`` (the default) is the broker ``baton up`` embeds (memory storage, a free
port); ``--broker kafka`` is a one-node Apache Kafka of ``deploy/local/kafka`` (KRaft, on the
JDK, in a temporary directory), started for the run and stopped after it.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from baton.embedded_broker import EmbeddedBroker
from tests.local_kafka import running_kafka

T = TypeVar("T")

BROKERS = ("tansu", "kafka")


@dataclass(frozen=True)
class Broker:
    """A running broker: its kind, its bootstrap servers and its process (for RSS and CPU)."""

    kind: str
    bootstrap: str
    pid: int


def add_broker_option(parser: argparse.ArgumentParser) -> None:
    """``--broker tansu|kafka`` (default ``tansu``)."""
    parser.add_argument(
        "--broker",
        choices=BROKERS,
        default="tansu",
        help="tansu: the embedded broker (default); kafka: one Apache Kafka node (a JDK and Maven)",
    )


@asynccontextmanager
async def running_broker(kind: str) -> AsyncIterator[Broker]:
    """A broker of ``kind`` while the context lasts (its files in a temporary directory)."""
    if kind not in BROKERS:
        raise ValueError(f"unknown broker {kind!r}: one of {', '.join(BROKERS)}")
    with tempfile.TemporaryDirectory(prefix=f"baton-bench-{kind}-") as tmp:
        if kind == "kafka":
            with running_kafka(Path(tmp)) as kafka:
                print(f"Apache Kafka up: {kafka.bootstrap}", flush=True)
                yield Broker(kind, kafka.bootstrap, kafka.node_pid(1))
            return
        async with EmbeddedBroker(log_path=Path(tmp) / "tansu.log") as embedded:
            if embedded.pid is None:
                raise RuntimeError("the embedded broker reported no process")
            yield Broker(kind, embedded.bootstrap, embedded.pid)


def on_broker(kind: str, work: Callable[[Broker], T]) -> T:
    """Run ``work`` while a broker of ``kind`` runs, and stop the broker after it.

    Both brokers are child processes, so ``work`` may block this thread's event loop meanwhile.
    """

    async def with_broker() -> T:
        async with running_broker(kind) as broker:
            return work(broker)

    return asyncio.run(with_broker())
