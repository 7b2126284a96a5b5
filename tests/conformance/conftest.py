"""Conformance fixtures: Baton's roles as processes, and real DBOS executors against them; and the
hooks that record, per client, how the tests marked ``compat`` ended (``tests.clients.matrix``)."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from playwright.async_api import Page

from tests.baton_cluster import BatonCluster
from tests.clients import matrix
from tests.clients.client import Client
from tests.conformance.scenario import ExecutorPool
from tests.dbos_app.harness import create_database, drop_database

_RUN: matrix.Results = {}
"""This session's outcomes of the ``compat`` tests, written at its end."""


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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Record a ``compat`` test's outcome for its client (setup and call; a skip is no outcome)."""
    report = yield
    marker = item.get_closest_marker("compat")
    if marker is None or report.when == "teardown" or report.skipped:
        return report
    if report.when == "setup" and report.passed:
        return report
    callspec = getattr(item, "callspec", None)
    client = None if callspec is None else callspec.params.get("client")
    label = client.label if isinstance(client, Client) else matrix.DEFAULT_LABEL
    said = dict(item.user_properties).get("compat")
    result: matrix.Outcome = "failed" if report.failed else "passed"
    if result == "passed" and said == "unsupported":
        result = "unsupported"
    matrix.record(_RUN, label, marker.args[0], result)
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    matrix.write_run(_RUN)
