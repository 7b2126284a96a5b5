"""Payload privacy with real DBOS executors: two apps run the same workflows with distinctive
inputs, outputs and errors. For the app whose privacy is on (``baton apps privacy APP on``, run on
the store while the cluster runs), none of them is in Baton's API answers, its store rows or the
workflow-events and replies topics, and its exports are refused; the other app's are everywhere.
Switching the other app's privacy on later erases what the store kept of it."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from store.app_settings import PAYLOADS_HIDDEN
from streams.codec import encode
from tests.baton_cluster import BatonCluster
from tests.conformance.scenario import ExecutorPool
from tests.dbos_app.harness import ExecutorProcess
from tests.dbos_app.system_db import create_database, drop_database, unique_database_name
from tests.eventually import assert_eventually

pytestmark = pytest.mark.conformance

CAPTURE_TIMEOUT_S = 30
X = 7_318_273_649
"""``quick(x)`` returns ``2 * x``: both are payloads to look for (long enough never to turn up in
a timestamp by chance)."""


@pytest.fixture
def other_system_db() -> Iterator[str]:
    name = unique_database_name()
    url = create_database(name)
    try:
        yield url
    finally:
        drop_database(name)


def run_workflows(executor: ExecutorProcess, secret: str) -> None:
    executor.start_workflow("quick", "wf-ok", x=X)
    executor.start_workflow("failing", "wf-err", message=secret)


def captured(cluster: BatonCluster, app: str) -> dict[str, str] | None:
    listed = cluster.api(f"/api/v1/apps/{app}/workflows")["workflows"]
    found = {w["workflow_id"]: w["status"] for w in listed}
    return found if found == {"wf-ok": "SUCCESS", "wf-err": "ERROR"} else None


def steps_captured(cluster: BatonCluster, app: str) -> bool:
    """The capture stored the step of ``wf-err`` (``quick`` has none)."""
    rows = store_rows(cluster, app)
    return {r["workflow_id"] for r in rows["workflow_steps"]} == {"wf-err"}


def wait_captured(cluster: BatonCluster, app: str) -> None:
    assert_eventually(
        lambda: captured(cluster, app),
        timeout_s=CAPTURE_TIMEOUT_S,
        message=f"{app}'s workflows captured",
    )
    assert_eventually(
        lambda: steps_captured(cluster, app),
        timeout_s=CAPTURE_TIMEOUT_S,
        message=f"{app}'s steps captured",
    )


def store_rows(cluster: BatonCluster, app: str) -> dict[str, list[dict[str, Any]]]:
    path = cluster.database_url.split("///", 1)[1]
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return {
            table: [dict(row) for row in db.execute(f"SELECT * FROM {table} WHERE app = ?", (app,))]
            for table in ("workflows", "workflow_steps")
        }


def secrets_in(text: str, secret: str) -> list[str]:
    return [s for s in (secret, str(X), str(2 * X)) if s in text]


def everything_baton_holds(cluster: BatonCluster, app: str) -> dict[str, str]:
    """What Baton shows and keeps of an app, as text: its API answers, its store rows and its
    records on the workflow-events and replies topics."""
    base = f"/api/v1/apps/{app}/workflows"
    api = [cluster.api(base), *(cluster.api(f"{base}/{w}") for w in ("wf-ok", "wf-err"))]
    api += [cluster.api(f"{base}/{w}/steps") for w in ("wf-ok", "wf-err")]
    topics = {
        topic: b"\n".join(encode(r) for r in cluster.topic_records(topic, app)).decode()
        for topic in ("workflow-events", "replies")
    }
    return {"api": repr(api), "store": repr(store_rows(cluster, app)), **topics}


def test_a_private_apps_payloads_are_nowhere_in_baton_and_another_apps_are(
    cluster: BatonCluster,
    pool: ExecutorPool,
    other_system_db: str,
    tmp_path: Path,
) -> None:
    private_app = pool.app
    public = ExecutorPool(cluster, f"pub{uuid.uuid4().hex[:8]}", other_system_db, tmp_path / "p")
    secret = f"card-{uuid.uuid4().hex}"
    try:
        # Switched on through the store while Baton runs; the worker picks it up within seconds.
        out = cluster.cli("apps", "privacy", private_app, "on")
        assert f"Payload privacy is on for app {private_app}" in out
        cluster.wait_for_log("worker", f"payload privacy on for app {private_app}")

        (hidden_executor,) = pool.start_connected(1)
        (shown_executor,) = public.start_connected(1)
        run_workflows(hidden_executor, secret)
        run_workflows(shown_executor, secret)
        for app in (private_app, public.app):
            wait_captured(cluster, app)

        # The private app: hidden in the API, live from its executor...
        base = f"/api/v1/apps/{private_app}/workflows"
        detail = cluster.api(f"{base}/wf-err")
        assert detail["source"] == "live"
        assert detail["payloads_hidden"] == PAYLOADS_HIDDEN
        assert (detail["input"], detail["output"], detail["error"]) == (None, None, None)
        steps = cluster.api(f"{base}/wf-err/steps")
        assert steps["payloads_hidden"] == PAYLOADS_HIDDEN
        assert [s["output"] for s in steps["steps"]] == [None]
        # ...and nowhere Baton keeps anything.
        held = everything_baton_holds(cluster, private_app)
        assert {where: secrets_in(text, secret) for where, text in held.items()} == {
            "api": [],
            "store": [],
            "workflow-events": [],
            "replies": [],
        }
        # The statuses themselves are there, and the live lookups' replies.
        assert private_app in held["workflow-events"]
        assert private_app in held["replies"]
        status, body = cluster.get(f"{base}/wf-ok/export")
        assert status == 409
        assert "payload privacy is on for app" in body["error"]

        # The other app: every payload where it always was.
        shown = everything_baton_holds(cluster, public.app)
        assert {where: secrets_in(text, secret) for where, text in shown.items()} == {
            "api": [secret, str(X), str(2 * X)],
            "store": [secret, str(X), str(2 * X)],
            "workflow-events": [secret, str(X), str(2 * X)],
            "replies": [secret, str(X), str(2 * X)],
        }

        # Switching the other app's privacy on erases what the store kept of its payloads.
        out = cluster.cli("apps", "privacy", public.app, "on")
        assert "erased the inputs, outputs and errors of 2 stored workflows" in out
        assert secrets_in(repr(store_rows(cluster, public.app)), secret) == []
        listed = cluster.cli("apps", "list")
        settings = {line.split()[0]: line.split()[1] for line in listed.splitlines()[1:]}
        assert (settings[private_app], settings[public.app]) == ("on", "on")
    finally:
        public.terminate_all()
