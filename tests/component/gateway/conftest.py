"""Fixtures for the gateway's component tests: a real gateway on port 0, a real Kafka, fakes.

The broker is the session's embedded Tansu broker (``kafka_bootstrap`` in ``tests/conftest.py``,
which fails the run with the broker's own message if it cannot start; it never skips). Each test
gets fresh topics, a fresh SQLite key store, and a consumer that collects every record the gateway
publishes to ``executor_events``.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from broker.admin import ensure_topics
from gateway.config import GatewayConfig, GatewayLimits
from gateway.keys import StoreKeys
from gateway.server import Gateway
from runtime.probes_http import ProbeRoutes
from store.database import Store, sqlite_url
from streams.ids import GatewayId
from streams.topics import Topics
from tests.component.gateway.fakes import CommandSender, EventLog, KeyBook, following

_LIMIT_FIELDS = {f.name for f in dataclasses.fields(GatewayLimits)}


@pytest.fixture
async def topics(kafka_bootstrap: str, unique_topic_prefix: str) -> Topics:
    """Fresh topics for this test (small partition count: quicker to create and to read)."""
    topics = Topics(prefix=unique_topic_prefix, partitions=2)
    await ensure_topics(kafka_bootstrap, topics.specs())
    return topics


@pytest.fixture
async def events(kafka_bootstrap: str, topics: Topics) -> AsyncIterator[EventLog]:
    async with following(kafka_bootstrap, topics.executor_events) as log:
        yield log


@pytest.fixture
async def workflow_events(kafka_bootstrap: str, topics: Topics) -> AsyncIterator[EventLog]:
    async with following(kafka_bootstrap, topics.workflow_events) as log:
        yield log


@pytest.fixture
async def replies(kafka_bootstrap: str, topics: Topics) -> AsyncIterator[EventLog]:
    async with following(kafka_bootstrap, topics.replies) as log:
        yield log


@pytest.fixture
async def commands(kafka_bootstrap: str, topics: Topics) -> AsyncIterator[CommandSender]:
    sender = CommandSender(kafka_bootstrap, topics.commands)
    await sender.start()
    try:
        yield sender
    finally:
        await sender.stop()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        yield store


@pytest.fixture
def keys(store: Store) -> KeyBook:
    return KeyBook(store)


@pytest.fixture
def make_gateway(kafka_bootstrap: str, topics: Topics, store: Store) -> Callable[..., Gateway]:
    """Build a gateway on a free port with fast timers; ``overrides`` are ``GatewayConfig`` or
    ``GatewayLimits`` fields; ``probes`` its plain-HTTP routes."""

    def make(probes: ProbeRoutes | None = None, **overrides: Any) -> Gateway:
        settings: dict[str, Any] = {
            "gateway_id": GatewayId(f"gw-{uuid.uuid4().hex[:8]}"),
            "kafka_bootstrap": kafka_bootstrap,
            "topics": topics,
            "host": "127.0.0.1",
            "port": 0,
            "heartbeat_interval_s": 0.2,
            "revocation_check_interval_s": 0.2,
        }
        limits: dict[str, Any] = {"handshake_timeout_s": 5.0}
        for name, value in overrides.items():
            (limits if name in _LIMIT_FIELDS else settings)[name] = value
        settings["limits"] = GatewayLimits(**limits)
        return Gateway(GatewayConfig(**settings), StoreKeys(store), probes)

    return make
