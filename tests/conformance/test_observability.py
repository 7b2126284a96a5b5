"""Real DBOS executors produce workflows in every status; Baton captures them (poller → gateway →
Kafka → Faust → store) and the API lists, filters and details them, live and after every executor
is gone. ``baton replay`` rebuilds the same rows from the topic."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from streams.bounds import MAX_PAYLOAD_CHARS
from tests.baton_cluster import BatonCluster
from tests.conformance.scenario import ExecutorPool
from tests.dbos_app.harness import (
    ExecutorProcess,
    create_database,
    drop_database,
    unique_database_name,
)
from tests.eventually import assert_eventually

pytestmark = pytest.mark.conformance

CAPTURE_TIMEOUT_S = 30
HOSTILE = "boom <script>alert(1)</script>"


def workflows(cluster: BatonCluster, app: str, **params: Any) -> dict[str, Any]:
    query = urlencode(params, doseq=True)
    result: dict[str, Any] = cluster.api(f"/api/v1/apps/{app}/workflows?{query}")
    return result


def statuses(cluster: BatonCluster, app: str, **params: Any) -> dict[str, str]:
    listed = workflows(cluster, app, limit=200, **params)["workflows"]
    return {w["workflow_id"]: w["status"] for w in listed}


def produce_every_status(a: ExecutorProcess) -> dict[str, str]:
    """Start one workflow per status on executor ``a``; returns the statuses they reach."""
    a.start_workflow("quick", "wf-ok", x=21)
    a.start_workflow("failing", "wf-err", message=HOSTILE)
    a.start_workflow("multi_step", "wf-pending", n=3, step_seconds=120)
    a.start_workflow("multi_step", "wf-q1", queue="serial", n=1, step_seconds=120)
    a.start_workflow("quick", "wf-q2", queue="serial", x=1)
    a.start_workflow("multi_step", "wf-cancel", n=3, step_seconds=120)
    a.cancel_workflow("wf-cancel")
    return {
        "wf-ok": "SUCCESS",
        "wf-err": "ERROR",
        "wf-pending": "PENDING",
        "wf-q1": "PENDING",
        "wf-q2": "ENQUEUED",
        "wf-cancel": "CANCELLED",
    }


@pytest.mark.compat("capture")
def test_every_status_is_captured_listed_filtered_and_detailed(pool: ExecutorPool) -> None:
    check_every_status(pool)


def test_every_status_with_the_store_on_postgresql(
    kafka_bootstrap: str, tmp_path: Path, pool_on: Callable[[BatonCluster], ExecutorPool]
) -> None:
    """The same, with Baton's own store in PostgreSQL mode (its own database)."""
    name = unique_database_name("baton_store")
    url = create_database(name).replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        with BatonCluster(kafka_bootstrap, tmp_path / "baton", database_url=url) as cluster:
            check_every_status(pool_on(cluster))
    finally:
        drop_database(name)


def check_every_status(pool: ExecutorPool) -> None:
    cluster, app = pool.cluster, pool.app
    (a,) = pool.start_connected(1)
    expected = produce_every_status(a)

    assert_eventually(
        lambda: statuses(cluster, app) == expected,
        timeout_s=CAPTURE_TIMEOUT_S,
        message=f"captured statuses {expected}",
    )
    listed = {w["workflow_id"]: w for w in workflows(cluster, app)["workflows"]}
    ok = listed["wf-ok"]
    assert ok["name"] == "quick"
    assert ok["executor_id"] == a.executor_id
    assert ok["application_version"] == "v1"
    assert ok["created_at"].endswith("Z")
    assert ok["completed_at"]
    assert listed["wf-q2"]["queue_name"] == "serial"

    # Filters, counts and sort.
    assert statuses(cluster, app, status="ERROR") == {"wf-err": "ERROR"}
    assert set(statuses(cluster, app, status=["PENDING", "ENQUEUED"])) == {
        "wf-pending",
        "wf-q1",
        "wf-q2",
    }
    assert set(statuses(cluster, app, name="failing")) == {"wf-err"}
    assert set(statuses(cluster, app, workflow_id_prefix="wf-q")) == {"wf-q1", "wf-q2"}
    assert set(statuses(cluster, app, queue="serial")) == {"wf-q1", "wf-q2"}
    assert set(statuses(cluster, app, executor_id=a.executor_id)) >= {"wf-ok", "wf-err"}
    assert statuses(cluster, app, application_version="v2") == {}
    counts = workflows(cluster, app)["counts"]
    assert {status: counts.get(status) for status in set(expected.values())} == {
        "SUCCESS": 1,
        "ERROR": 1,
        "CANCELLED": 1,
        "PENDING": 2,
        "ENQUEUED": 1,
    }
    page = workflows(cluster, app, limit=2, sort="created_asc")
    assert [w["workflow_id"] for w in page["workflows"]] == ["wf-ok", "wf-err"]

    # Queues.
    queues = {q["queue_name"]: q for q in cluster.api(f"/api/v1/apps/{app}/queues")}
    assert queues["serial"]["enqueued"] == 1
    assert queues["serial"]["pending"] == 1
    queued = cluster.api(f"/api/v1/apps/{app}/queued-workflows")
    queued_ids = {w["workflow_id"] for w in queued.get("workflows", queued)}
    assert queued_ids == {"wf-q1", "wf-q2"}

    # Detail and steps, live from the executor.
    detail = cluster.api(f"/api/v1/apps/{app}/workflows/wf-ok")
    assert detail["source"] == "live"
    assert detail["stale_as_of"] is None
    assert "42" in detail["output"]
    assert "21" in detail["input"]
    error = cluster.api(f"/api/v1/apps/{app}/workflows/wf-err")
    assert "alert(1)" in error["error"]
    steps = cluster.api(f"/api/v1/apps/{app}/workflows/wf-err/steps")
    assert steps["source"] == "live"
    assert [s["function_name"].rsplit(".", 1)[-1] for s in steps["steps"]][:1] == ["prepare"]

    # Every executor gone: the list, the detail and the steps answer from the store.
    a.kill()
    assert_eventually(
        lambda: not any(e["state"] == "connected" for e in cluster.executors(app).values()),
        timeout_s=30,
        message="the executor is no longer connected",
    )
    assert statuses(cluster, app) == expected
    stored = cluster.api(f"/api/v1/apps/{app}/workflows/wf-ok")
    assert stored["source"] == "store"
    assert stored["stale_as_of"]
    assert "42" in stored["output"]
    assert "21" in stored["input"]
    stored_steps = cluster.api(f"/api/v1/apps/{app}/workflows/wf-err/steps")
    assert stored_steps["source"] == "store"
    assert stored_steps["steps"], "the steps seen live were kept in the store"
    apps = {entry["app"]: entry for entry in cluster.api("/api/v1/apps")}
    assert apps[app]["workflows"] == len(expected)


def test_completion_after_capture_is_captured(pool: ExecutorPool) -> None:
    """A workflow first seen PENDING is captured again when it completes (completions query)."""
    cluster, app = pool.cluster, pool.app
    (a,) = pool.start_connected(1)
    a.start_workflow("multi_step", "wf-slow", n=2, step_seconds=3)
    assert_eventually(
        lambda: statuses(cluster, app).get("wf-slow") == "PENDING",
        timeout_s=CAPTURE_TIMEOUT_S,
        message="wf-slow captured while PENDING",
    )
    assert_eventually(
        lambda: statuses(cluster, app).get("wf-slow") == "SUCCESS",
        timeout_s=CAPTURE_TIMEOUT_S,
        message="wf-slow captured again once SUCCESS",
    )
    steps = cluster.api(f"/api/v1/apps/{app}/workflows/wf-slow/steps")
    assert len(steps["steps"]) == 2


def test_oversized_output_is_stored_bounded(pool: ExecutorPool) -> None:
    cluster, app = pool.cluster, pool.app
    (a,) = pool.start_connected(1)
    a.start_workflow("big", "wf-big", size=300_000)
    assert_eventually(
        lambda: statuses(cluster, app).get("wf-big") == "SUCCESS",
        timeout_s=CAPTURE_TIMEOUT_S,
        message="wf-big captured",
    )
    a.kill()
    assert_eventually(
        lambda: cluster.api(f"/api/v1/apps/{app}/workflows/wf-big")["source"] == "store",
        timeout_s=30,
        message="served from the store once the executor is gone",
    )
    stored = cluster.api(f"/api/v1/apps/{app}/workflows/wf-big")
    assert MAX_PAYLOAD_CHARS <= len(stored["output"]) < MAX_PAYLOAD_CHARS + 100
    assert "more characters cut" in stored["output"]


def test_replay_into_an_empty_store_gives_the_same_rows(pool: ExecutorPool, tmp_path: Path) -> None:
    cluster, app = pool.cluster, pool.app
    (a,) = pool.start_connected(1)
    for i in range(5):
        a.start_workflow("quick", f"wf-r{i}", x=i)
    a.start_workflow("failing", "wf-rerr", message="replayed")
    assert_eventually(
        lambda: len(statuses(cluster, app, status=["SUCCESS", "ERROR"])) == 6,
        timeout_s=CAPTURE_TIMEOUT_S,
        message="six finished workflows captured",
    )
    # Let the projection settle (no news for a moment) before comparing.
    live_rows = assert_eventually(
        lambda: _stable_rows(cluster.database_url, app),
        timeout_s=20,
        message="the live store stops changing",
    )

    replayed = tmp_path / "replayed.db"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "baton",
            "replay",
            "--kafka",
            cluster.kafka_bootstrap,
            "--database-url",
            f"sqlite+aiosqlite:///{replayed}",
        ],
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Replayed" in result.stdout
    assert _rows(f"sqlite+aiosqlite:///{replayed}", app) == live_rows


def _rows(database_url: str, app: str) -> list[tuple[Any, ...]]:
    path = database_url.split("///", 1)[1]
    with sqlite3.connect(path) as db:
        workflows = db.execute(
            "SELECT * FROM workflows WHERE app = ? ORDER BY workflow_id", (app,)
        ).fetchall()
        steps = db.execute(
            "SELECT * FROM workflow_steps WHERE app = ? ORDER BY workflow_id, function_id", (app,)
        ).fetchall()
    return [*workflows, ("--steps--",), *steps]


_previous: dict[str, tuple[list[tuple[Any, ...]], float]] = {}
SETTLED_S = 3.0
"""Longer than a capture poll's interval (2 s): steps come a poll after their workflow."""


def _stable_rows(database_url: str, app: str) -> list[tuple[Any, ...]] | None:
    """The app's rows once they stayed the same for ``SETTLED_S``."""
    rows = _rows(database_url, app)
    now = time.monotonic()
    previous = _previous.get(app)
    if previous is None or previous[0] != rows:
        _previous[app] = (rows, now)
        return None
    return rows if now - previous[1] >= SETTLED_S else None
