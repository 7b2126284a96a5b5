"""Conformance fixtures: Baton's roles as processes, and real DBOS executors against them (how the
tests marked ``compat`` ended, per client, is recorded by ``tests.clients.compat_plugin``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from playwright.async_api import Page

from tests.baton_cluster import BatonCluster
from tests.conformance.scenario import ExecutorPool
from tests.dbos_app.harness import create_database, drop_database


@pytest.fixture(scope="module")
def cluster(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BatonCluster]:
    """One cluster for a module's tests (each test uses its own app and database)."""
    with BatonCluster(kafka_bootstrap, tmp_path_factory.mktemp("baton")) as running:
        yield running


@pytest.fixture
def system_db() -> Iterator[str]:
    name = f"baton_t{uuid4().hex[:10]}"
    url = create_database(name)
    try:
        yield url
    finally:
        drop_database(name)


@pytest.fixture
def app_name() -> str:
    return f"app{uuid4().hex[:8]}"


@pytest.fixture
def pool_on(
    system_db: str, app_name: str, tmp_path: Path
) -> Iterator[Callable[[BatonCluster], ExecutorPool]]:
    """Executors of this test's app on a given cluster; all are stopped after the test."""
    pools: list[ExecutorPool] = []

    def make(on: BatonCluster) -> ExecutorPool:
        pools.append(ExecutorPool(on, app_name, system_db, tmp_path))
        return pools[-1]

    yield make
    for pool in pools:
        pool.terminate_all()


@pytest.fixture
def pool(cluster: BatonCluster, pool_on: Callable[[BatonCluster], ExecutorPool]) -> ExecutorPool:
    """Executors of this test's app on the module's cluster."""
    return pool_on(cluster)


@pytest.fixture
async def page(page: Page, cluster: BatonCluster) -> Page:
    """The browser page of ``tests.browser.fixtures``, sending the cluster's admin token on every
    request (the console's actor is ``token:tester``, as for the cluster's other calls)."""
    await page.context.set_extra_http_headers(cluster.auth_headers)
    return page


@pytest.fixture
def fresh_cluster(kafka_bootstrap: str, tmp_path: Path) -> Iterator[BatonCluster]:
    """A cluster of this test's own, for tests that restart or kill its roles."""
    with BatonCluster(kafka_bootstrap, tmp_path / "baton") as running:
        yield running
