"""Topic creation against an address where no Kafka answers: one ``BrokerUnreachable`` saying
which address and why, after the retries, without aiokafka's per-attempt error lines."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from broker.admin import ensure_topics
from streams.exceptions import BrokerUnreachable
from streams.topics import TopicSpec

SPECS = [TopicSpec(name="t", partitions=1)]


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never answers, like a port that is not Kafka's."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


async def test_nothing_listening(closed_port: int, caplog: pytest.LogCaptureFixture) -> None:
    bootstrap = f"127.0.0.1:{closed_port}"
    with pytest.raises(BrokerUnreachable) as caught:
        await ensure_topics(bootstrap, SPECS, timeout_s=0.5)
    assert caught.value.bootstrap == bootstrap
    assert caught.value.cause == f"no Kafka broker answers at {bootstrap} (connection refused)"
    assert "--kafka" in caught.value.fix
    assert caught.value.retriable
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_an_unknown_host() -> None:
    with pytest.raises(BrokerUnreachable, match=r"cannot resolve 'no-such-host\.invalid'"):
        await ensure_topics("no-such-host.invalid:9092", SPECS, timeout_s=0.5)


async def test_a_port_that_does_not_speak_kafka(silent_server: int) -> None:
    with pytest.raises(BrokerUnreachable, match="does not answer as Kafka"):
        await ensure_topics(f"127.0.0.1:{silent_server}", SPECS, timeout_s=1.5)
