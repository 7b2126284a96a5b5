"""Fixtures of the console's component tests: a real SQLite store seeded with ``seed.seed``; the
console over it as a JSON client (``client``; ``api`` with executors played by ``FakeChannel``) and
as a dashboard (``console``, with the ``executor`` of ``dashboard_client``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from console.app import create_app
from management.channel import LiveExecutors
from store.database import Store, sqlite_url
from tests.component.console.channel import FakeChannel
from tests.component.console.dashboard_client import Console, FakeExecutor, serve
from tests.component.console.seed import ClientFactory, seed
from tests.console_access import TEST_ACCESS, bearer


@pytest.fixture
async def seeded_store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(sqlite_url(tmp_path / "baton.db")) as store:
        await seed(store)
        yield store


@pytest.fixture
def make_client(seeded_store: Store) -> ClientFactory:
    """``async with make_client(live, **create_app_kwargs) as client``: the console over the
    seeded store, through httpx's ASGI transport, its lifespan (background work) running."""

    @asynccontextmanager
    async def factory(
        live: LiveExecutors | None = None, **kwargs: object
    ) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(seeded_store, live, access=TEST_ACCESS, **kwargs)  # type: ignore[arg-type]
        headers = await bearer(seeded_store)
        async with LifespanManager(app) as running:
            transport = httpx.ASGITransport(app=running.app, raise_app_exceptions=False)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://console", headers=headers
            ) as client:
                yield client

    return factory


@pytest.fixture
async def client(make_client: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    """The console with no live executors: every answer comes from the store."""
    async with make_client() as client:
        yield client


@pytest.fixture
def channel() -> FakeChannel:
    return FakeChannel()


@pytest.fixture
async def api(seeded_store: Store, channel: FakeChannel) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(seeded_store, channel=channel, action_timeout_s=0.3, access=TEST_ACCESS)
    headers = await bearer(seeded_store)
    async with LifespanManager(app) as running:
        transport = httpx.ASGITransport(app=running.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://console", headers=headers
        ) as client:
            yield client


@pytest.fixture
def executor(seeded_store: Store) -> FakeExecutor:
    return FakeExecutor(store=seeded_store)


@pytest.fixture
async def console(seeded_store: Store, executor: FakeExecutor) -> AsyncIterator[Console]:
    async with serve(seeded_store, executor) as running:
        yield running
