"""Fixtures for the Faust agents' tests: a worker app on fresh topics, what the gateways publish
(a sender per topic) and what the agents write (a log per topic)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from broker.faust_app import WorkerApp
from tests.component.gateway.fakes import CommandSender, EventLog, following
from tests.integration.faust_worker import worker_app


@pytest.fixture
async def worker(kafka_bootstrap: str, unique_topic_prefix: str, tmp_path: Path) -> WorkerApp:
    """A worker app on this test's topics, not started (``faust_worker.started`` runs it)."""
    return await worker_app(kafka_bootstrap, unique_topic_prefix, tmp_path / "worker")


@contextlib.asynccontextmanager
async def sending(bootstrap: str, topic: str) -> AsyncIterator[CommandSender]:
    sender = CommandSender(bootstrap, topic)
    await sender.start()
    try:
        yield sender
    finally:
        await sender.stop()


@pytest.fixture
async def executor_events(kafka_bootstrap: str, worker: WorkerApp) -> AsyncIterator[CommandSender]:
    """Publishes to the executor events topic, as gateway pods do."""
    async with sending(kafka_bootstrap, worker.topics.executor_events) as sender:
        yield sender


@pytest.fixture
async def workflow_events(kafka_bootstrap: str, worker: WorkerApp) -> AsyncIterator[CommandSender]:
    """Publishes to the workflow events topic, as gateway pods do."""
    async with sending(kafka_bootstrap, worker.topics.workflow_events) as sender:
        yield sender


@pytest.fixture
async def commands(kafka_bootstrap: str, worker: WorkerApp) -> AsyncIterator[EventLog]:
    """Every record on the commands topic."""
    async with following(kafka_bootstrap, worker.topics.commands) as log:
        yield log


@pytest.fixture
async def audit(kafka_bootstrap: str, worker: WorkerApp) -> AsyncIterator[EventLog]:
    """Every record on the audit topic."""
    async with following(kafka_bootstrap, worker.topics.audit) as log:
        yield log
