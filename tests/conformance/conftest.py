"""Conformance fixtures: Baton's roles as processes, and real DBOS executors against them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from tests.baton_cluster import BatonCluster
from tests.dbos_app.harness import ExecutorProcess, create_database, drop_database


@pytest.fixture(scope="module")
def cluster(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BatonCluster]:
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


ExecutorFactory = Callable[..., ExecutorProcess]


@pytest.fixture
def executors(
    cluster: BatonCluster, system_db: str, app_name: str, tmp_path: Path
) -> Iterator[ExecutorFactory]:
    """Start real DBOS executors of ``app_name`` connected to the cluster's gateway."""
    started: list[ExecutorProcess] = []
    key = cluster.create_key(app_name)

    def start(app_version: str = "v1", **overrides: object) -> ExecutorProcess:
        index = len(started)
        params: dict[str, object] = {
            "app_name": app_name,
            "system_db_url": system_db,
            "marker_dir": tmp_path / "markers",
            "conductor_url": cluster.conductor_url,
            "conductor_key": key,
            "app_version": app_version,
            "log_dir": tmp_path / f"executor{index}",
            **overrides,
        }
        executor = ExecutorProcess(**params)  # type: ignore[arg-type]
        started.append(executor)
        return executor.start()

    yield start
    for executor in started:
        executor.terminate()
