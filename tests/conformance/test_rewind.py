"""Rewind, and a verb a client lacks, against real DBOS clients.

A rewind (DBOS ``rewind_workflow``) runs a finished workflow again from a step under its own id:
the clients that have it (Python ``dbos==3.2.0``, TypeScript 5.2.11, Go v1.6.0, and every
release Baton's connectors declare: ``catalog.CONNECTORS``) do it from the API, a bulk job and the
CLI. The clients that lack it (the default Python 2.31.1 harness, Java
1.1.0-m6) are never sent it: the console answers 501 at once, naming the client and its version,
audits the refusal, and the workflow and the session are untouched.

``multi_step``'s step ``k`` is DBOS function id ``client.function_id_of_step(k)`` (Python counts
from 1, TypeScript and Go from 0); a rewind from function id ``f`` keeps the checkpoints below
``f`` and runs the rest again, so its marker file gains only the steps re-run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.baton_cluster import BatonCluster
from tests.clients.catalog import (
    CONNECTORS,
    GO_1_6,
    JAVA_1_1,
    PYTHON_2_31,
    PYTHON_3_2,
    TYPESCRIPT_5_2,
)
from tests.clients.client import Client
from tests.conformance.scenario import ExecutorPool
from tests.conformance.test_management import (
    RUN_TIMEOUT_S,
    act,
    act_ok,
    audit_entries,
    dbos_status,
    step_numbers,
    wait_captured,
)
from tests.eventually import assert_eventually

pytestmark = pytest.mark.conformance

REWINDING = [PYTHON_3_2, TYPESCRIPT_5_2, GO_1_6, *CONNECTORS]
WITHOUT_REWIND = [PYTHON_2_31, JAVA_1_1]
NAMES = {"python": "Python", "typescript": "TypeScript", "go": "Go", "java": "Java"}
QUICK_S = 3.0
"""A refusal of a verb the client lacks is answered without asking the executor: well within
this, where an unanswered request would take the action timeout (10 s)."""


@pytest.fixture
def fleet(
    cluster: BatonCluster, client: Client, app_name: str, system_db: str, tmp_path: Path
) -> Iterator[ExecutorPool]:
    pool = ExecutorPool(cluster, app_name, system_db, tmp_path, client)
    try:
        yield pool
    finally:
        pool.terminate_all()


@pytest.mark.compat("rewind")
@pytest.mark.parametrize("client", REWINDING, ids=[c.label for c in REWINDING])
def test_rewind_runs_a_finished_workflow_again_from_a_step_under_its_own_id(
    fleet: ExecutorPool,
) -> None:
    cluster, app, fid = fleet.cluster, fleet.app, fleet.client.function_id_of_step
    (a,) = fleet.start_connected(1)
    a.start_workflow("multi_step", "wf-rewind", n=3, step_seconds=0.05)
    wait_captured(cluster, app, "wf-rewind", "SUCCESS")

    rewound = act_ok(cluster, app, "wf-rewind", "rewind", {"start_step": fid(2)})
    assert rewound["executor_id"] == a.executor_id, rewound
    assert rewound["params"]["start_step"] == fid(2), rewound
    _wait_steps(a, "wf-rewind", [1, 2, 3, 2, 3])
    assert a.forks_of("wf-rewind") == [], "a rewind keeps the id: no new workflow"

    status, started = cluster.post(
        f"/api/v1/apps/{app}/bulk",
        {"action": "rewind", "workflow_ids": ["wf-rewind"], "start_step": fid(3)},
    )
    assert status == 202, started
    job = assert_eventually(
        lambda: _finished_job(cluster, app, started["job_id"]),
        timeout_s=RUN_TIMEOUT_S,
        message="the bulk rewind finishes",
    )
    assert (job["state"], job["total"], job["succeeded"]) == ("succeeded", 1, 1), job
    _wait_steps(a, "wf-rewind", [1, 2, 3, 2, 3, 3])

    by_cli = cluster.baton(
        "workflows", "rewind", app, "wf-rewind", "--console", cluster.console_url
    )
    assert by_cli.returncode == 0, by_cli.stderr
    assert "workflow.rewind wf-rewind: succeeded" in by_cli.stdout, by_cli.stdout
    _wait_steps(a, "wf-rewind", [1, 2, 3, 2, 3, 3, 1, 2, 3])
    audited = [e for e in audit_entries(cluster, app=app) if e["action"] == "workflow.rewind"]
    assert [e["outcome"] for e in audited] == ["succeeded", "succeeded"], audited


@pytest.mark.compat("rewind")
@pytest.mark.parametrize("client", WITHOUT_REWIND, ids=[c.label for c in WITHOUT_REWIND])
def test_rewind_on_a_client_without_it_answers_501_at_once_naming_the_client(
    fleet: ExecutorPool, record_property: Any
) -> None:
    cluster, app, client = fleet.cluster, fleet.app, fleet.client
    (a,) = fleet.start_connected(1)
    a.start_workflow("quick", "wf-old", x=2)
    wait_captured(cluster, app, "wf-old", "SUCCESS")

    began = time.monotonic()
    status, answer = act(cluster, app, "wf-old", "rewind", {"start_step": 1})
    took_s = time.monotonic() - began

    assert status == 501, answer
    assert took_s < QUICK_S, f"the refusal took {took_s:.1f} s"
    assert answer["error"] == (
        f"the {NAMES[client.language]} client {client.sdk_version} of executor {a.executor_id} "
        "does not support rewind_workflow; fork it from that step instead (a new workflow id)"
    ), answer
    assert answer["action"]["outcome"] == "rejected", answer
    assert answer["action"]["result"] == {"reason": "unsupported"}, answer
    assert dbos_status(a, "wf-old") == "SUCCESS"
    assert a.forks_of("wf-old") == []
    row = cluster.executors(app)[a.executor_id]
    assert row["state"] == "connected", row
    assert row["compatibility_warning"] is None, row
    record_property("compat", "unsupported")


def _wait_steps(executor: Any, workflow_id: str, expected: list[int]) -> None:
    def done() -> bool:
        assert step_numbers(executor, workflow_id) == expected
        assert dbos_status(executor, workflow_id) == "SUCCESS"
        return True

    assert_eventually(done, timeout_s=RUN_TIMEOUT_S, message=f"{workflow_id} ran {expected}")


def _finished_job(cluster: BatonCluster, app: str, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = cluster.api(f"/api/v1/apps/{app}/bulk/{job_id}")
    assert job["state"] != "running", f"{job['done']} of {job['total']} done"
    return job
