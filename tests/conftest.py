"""Shared fixtures: one embedded Tansu broker per session, a fresh topic prefix per test.

The broker never skips: if the Tansu binary is missing or does not come up, the session fails with
the broker's own error message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest

from baton.embedded_broker import EmbeddedBroker, EmbeddedBrokerError


@pytest.fixture(scope="session")
async def embedded_broker() -> AsyncIterator[EmbeddedBroker]:
    """The session's broker; most tests only need ``kafka_bootstrap``."""
    broker = EmbeddedBroker()
    try:
        await broker.start()
    except EmbeddedBrokerError as exc:
        pytest.fail(f"the embedded Tansu broker is required for integration tests: {exc}")
    try:
        yield broker
    finally:
        await broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(embedded_broker: EmbeddedBroker) -> str:
    """``host:port`` of the session's embedded broker."""
    return embedded_broker.bootstrap


@pytest.fixture
def unique_topic_prefix() -> str:
    """A topic (and consumer group) prefix no other test uses, e.g. ``t1a2b3c4d.``."""
    return f"t{uuid4().hex[:8]}."
