"""The broker a benchmark runs on: the embedded default (Tansu) or Apache Kafka (issue 12: the
limits are measured on both).

``--broker tansu`` (the default) is the broker ``baton up`` embeds (memory storage, a free
port); ``--broker kafka`` is a one-node Apache Kafka of ``deploy/local/kafka`` (KRaft, on the
JDK, in a temporary directory), started for the run and stopped after it.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from baton.embedded_broker import EmbeddedBroker
from bench.embedded import with_embedded_broker
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


def on_broker(kind: str, work: Callable[[Broker], T]) -> T:
    """Run ``work`` while a broker of ``kind`` runs, and stop the broker after it."""
    if kind == "kafka":
        with (
            tempfile.TemporaryDirectory(prefix="baton-bench-kafka-") as tmp,
            running_kafka(Path(tmp)) as kafka,
        ):
            print(f"Apache Kafka up: {kafka.bootstrap}", flush=True)
            return work(Broker(kind, kafka.bootstrap, kafka.node_pid(1)))
    if kind != "tansu":
        raise ValueError(f"unknown broker {kind!r}: one of {', '.join(BROKERS)}")

    def on_tansu(broker: EmbeddedBroker) -> T:
        if broker.pid is None:
            raise RuntimeError("the embedded broker reported no process")
        return work(Broker(kind, broker.bootstrap, broker.pid))

    return with_embedded_broker(on_tansu)
