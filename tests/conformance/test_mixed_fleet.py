"""A mixed fleet: apps of different DBOS clients on one Baton at once (two languages in one app
is not a DBOS setup; apps of different languages side by side are). Each app's executors are
listed with their own client, a crash in each is recovered on a survivor of its own app at the
same time, and nothing crosses from one app to another."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from tests.baton_cluster import BatonCluster
from tests.clients.catalog import GO_1_6, PYTHON_3_2, TYPESCRIPT_5_2
from tests.conformance.scenario import ExecutorPool
from tests.dbos_app.harness import (
    ExecutorProcess,
    create_database,
    drop_database,
    recorded_step_ids,
)
from tests.eventually import assert_eventually

pytestmark = pytest.mark.conformance

FLEET = (PYTHON_3_2, TYPESCRIPT_5_2, GO_1_6)


@pytest.fixture
def pools(cluster: BatonCluster, tmp_path: Path) -> Iterator[list[ExecutorPool]]:
    """One app per client, each with its own system database."""
    made: list[tuple[ExecutorPool, str]] = []
    try:
        for client in FLEET:
            name = f"baton_m{uuid4().hex[:10]}"
            url = create_database(name)
            app = f"{client.language}{uuid4().hex[:6]}"
            pool = ExecutorPool(cluster, app, url, tmp_path / client.label, client)
            made.append((pool, name))
        yield [pool for pool, _ in made]
    finally:
        for pool, name in made:
            pool.terminate_all()
            drop_database(name)


def crash_mid_workflow(pool: ExecutorPool, victim: ExecutorProcess, workflow_id: str) -> None:
    victim.start_workflow("multi_step", workflow_id, n=5, step_seconds=0.6)
    assert_eventually(
        lambda: recorded_step_ids(pool.system_db, workflow_id),
        timeout_s=30,
        message=f"{workflow_id} checkpointed a step on {pool.client.label}",
    )


def test_apps_of_different_clients_are_served_and_recovered_side_by_side(
    pools: list[ExecutorPool],
) -> None:
    fleets: list[tuple[ExecutorPool, ExecutorProcess, ExecutorProcess]] = []
    for pool in pools:
        a, b = pool.start_connected(2)
        fleets.append((pool, a, b))
    for pool, a, _ in fleets:
        row = pool.cluster.executors(pool.app)[a.executor_id]
        assert (row["language"], row["dbos_version"]) == (
            pool.client.language,
            pool.client.sdk_version,
        )
        assert row["compatibility_warning"] is None, row

    for pool, a, _ in fleets:
        crash_mid_workflow(pool, a, f"wf-{pool.client.language}")
    for _, a, _ in fleets:
        a.kill()  # every app loses an executor at once

    for pool, _, b in fleets:
        assert pool.wait_success(f"wf-{pool.client.language}", timeout_s=60).executor_id == (
            b.executor_id
        )
    for pool, a, b in fleets:

        def succeeded(p: ExecutorPool = pool) -> list[dict[str, Any]]:
            return [r for r in p.cluster.recoveries(p.app) if r["state"] == "succeeded"]

        recoveries = assert_eventually(
            succeeded, timeout_s=15, message=f"{pool.app}'s recovery listed"
        )
        assert [(r["dead_executor_id"], r["target"]) for r in recoveries] == [
            (a.executor_id, b.executor_id)
        ]
        # Each app lists only its own executors.
        listed = set(pool.cluster.executors(pool.app))
        assert listed == {a.executor_id, b.executor_id}, (pool.app, listed)
