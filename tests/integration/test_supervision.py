"""``baton up`` survives its own parts dying, with real DBOS executors connected: the embedded
broker killed (restarted on its port, empty; topics re-created, the worker restarted, the
gateways' snapshots rebuilding the liveness view, readiness false meanwhile, the logs quiet) and
each role killed in turn (restarted; executors reconnect; recovery works afterwards). No live
executor is ever recovered; a crash after the restart is."""

from __future__ import annotations

import json
import shutil
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import psutil
import pytest

from streams.records import RecoveryStep
from tests.baton_cluster import BatonCluster, free_port
from tests.baton_up import run_up, wait_until_up
from tests.conformance.scenario import ExecutorPool
from tests.dbos_app.harness import create_database, drop_database
from tests.eventually import assert_eventually

pytestmark = [pytest.mark.integration, pytest.mark.alone, pytest.mark.timeout(300)]


@pytest.fixture
def system_db() -> Iterator[str]:
    name = f"baton_s{uuid4().hex[:10]}"
    url = create_database(name)
    try:
        yield url
    finally:
        drop_database(name)


@pytest.fixture
def up(tmp_path: Path) -> Iterator[BatonCluster]:
    """``baton up`` with its embedded broker on a known port."""
    cluster = BatonCluster(f"127.0.0.1:{free_port()}", tmp_path / "baton")
    try:
        yield cluster.start_up(embedded_broker=True)
    finally:
        cluster.stop()


@pytest.fixture
def pool(up: BatonCluster, system_db: str, tmp_path: Path) -> Iterator[ExecutorPool]:
    executors = ExecutorPool(up, f"app{uuid4().hex[:8]}", system_db, tmp_path)
    try:
        yield executors
    finally:
        executors.terminate_all()


def child(up: BatonCluster, marker: str) -> psutil.Process:
    """The ``baton up`` child whose command line holds ``marker`` (``tansu``, ``gateway``...)."""
    supervisor = up.roles["up"].process
    assert supervisor is not None
    found = [
        p
        for p in psutil.Process(supervisor.pid).children()
        if marker in " ".join(p.cmdline()[:4]) and p.status() != psutil.STATUS_ZOMBIE
    ]
    assert len(found) == 1, [p.cmdline() for p in found]
    return found[0]


def probe(url: str) -> tuple[int, dict[str, Any]]:
    """GET a probe; ``(status, body)``, ``(0, {})`` when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError:
        return 0, {}


def probe_urls(up: BatonCluster, path: str) -> dict[str, str]:
    return {
        "console": f"{up.console_url}{path}",
        "gateway": f"http://127.0.0.1:{up.gateway_port}{path}",
        "worker": f"http://127.0.0.1:{up.worker_ports[0]}{path}",
    }


def all_ready(up: BatonCluster) -> bool:
    return all(probe(url)[0] == 200 for url in probe_urls(up, "/readyz").values())


def seen_since(pool: ExecutorPool, moment: datetime, *executor_ids: str) -> bool:
    """Every executor is listed connected, reported by a gateway after ``moment``."""
    rows = pool.cluster.executors(pool.app)
    for executor_id in executor_ids:
        row = rows.get(executor_id, {})
        assert row.get("state") == "connected", (executor_id, row)
        last_seen = datetime.fromisoformat(row["last_seen"].replace("Z", "+00:00"))
        assert last_seen > moment, (executor_id, row["last_seen"], moment)
    return True


def captured(up: BatonCluster, app: str, workflow_id: str) -> bool:
    status, body = up.get(f"/api/v1/apps/{app}/workflows/{workflow_id}")
    assert status == 200, (status, body)
    assert body["status"] == "SUCCESS", body
    return True


def test_probes_of_every_role_answer_anonymously(up: BatonCluster) -> None:
    for role, url in probe_urls(up, "/readyz").items():
        assert probe(url) == (200, {"status": "ready"}), role
    for role, url in probe_urls(up, "/healthz").items():
        assert probe(url) == (200, {"status": "ok"}), role


def test_killed_broker_is_restarted_and_baton_heals(up: BatonCluster, pool: ExecutorPool) -> None:
    a, b = pool.start_connected(2)
    log = up.roles["up"]
    lines_before = len(log.log_text().splitlines())
    broker = child(up, "tansu")

    broker.kill()
    # Readiness is false while the broker is away (it comes back within a second or two).
    assert_eventually(
        lambda: probe(probe_urls(up, "/readyz")["console"])[0] == 503,
        timeout_s=10,
        interval_s=0.05,
        message="the console is not ready while its broker is gone",
    )
    status, health = probe(probe_urls(up, "/healthz")["console"])
    assert (status, health["status"]) in ((200, "degraded"), (200, "ok")), health
    assert_eventually(lambda: "embedded broker is back" in log.log_text(), timeout_s=30)
    back_at = datetime.now(UTC)
    assert child(up, "tansu").pid != broker.pid
    assert_eventually(lambda: all_ready(up), timeout_s=60, message="every role ready again")

    # The restarted worker rebuilt the liveness view from the gateway's snapshots.
    assert_eventually(
        lambda: seen_since(pool, back_at, a.executor_id, b.executor_id),
        timeout_s=30,
        message="both executors reported connected after the broker came back",
    )
    # Capture resumes.
    a.start_workflow("quick", "wf-after-broker", x=1)
    assert_eventually(lambda: captured(up, pool.app, "wf-after-broker"), timeout_s=40)
    # A crash after the broker came back is recovered, on the survivor; the survivor never is.
    pool.run(a, "wf-crash-after", n=6, step_s=0.5)
    a.kill()
    assert pool.wait_success("wf-crash-after", timeout_s=60).executor_id == b.executor_id
    dead = {d.dead_executor_id for d in pool.decisions(RecoveryStep.DECLARED_DEAD)}
    assert dead == {a.executor_id}

    text = log.log_text()
    assert text.count("embedded broker on") == 1, "one line when the broker is lost"
    assert text.count("embedded broker is back") == 1, "one line when it is back"
    # Quiet: the outage, recovery and crash above are a few dozen lines, not 125 a second.
    assert len(text.splitlines()) - lines_before < 120, text[-5000:]


def test_an_executor_that_dies_while_the_broker_is_away_is_recovered(
    up: BatonCluster, pool: ExecutorPool
) -> None:
    """The restarted worker's tables are empty: it starts from the executors the store last saw
    connected, so the one that died meanwhile is recovered, and only that one."""
    a, b = pool.start_connected(2)
    pool.run(a, "wf-died-meanwhile", n=8, step_s=0.5)

    child(up, "tansu").kill()
    a.kill()
    log = up.roles["up"]
    assert_eventually(lambda: "embedded broker is back" in log.log_text(), timeout_s=30)

    assert pool.wait_success("wf-died-meanwhile", timeout_s=90).executor_id == b.executor_id
    dead = {d.dead_executor_id for d in pool.decisions(RecoveryStep.DECLARED_DEAD)}
    assert dead == {a.executor_id}
    assert pool.cluster.executors(pool.app)[b.executor_id]["state"] == "connected"


@pytest.mark.parametrize("role", ["gateway", "console", "worker"])
def test_killed_role_is_restarted_and_baton_works(
    up: BatonCluster, pool: ExecutorPool, role: str
) -> None:
    a, b = pool.start_connected(2)
    connected_at = {
        e: pool.cluster.executors(pool.app)[e]["connected_at"]
        for e in (a.executor_id, b.executor_id)
    }
    killed = child(up, f"baton {role}")

    killed.send_signal(signal.SIGKILL)
    log = up.roles["up"]
    assert_eventually(
        lambda: f"role {role} exited (signal SIGKILL); restarting it" in log.log_text(),
        timeout_s=10,
    )
    assert_eventually(lambda: child(up, f"baton {role}").pid != killed.pid, timeout_s=20)
    assert_eventually(lambda: all_ready(up), timeout_s=60, message=f"{role} ready again")
    assert probe(probe_urls(up, "/healthz")[role]) == (200, {"status": "ok"})

    if role == "gateway":
        # The executors reconnect through the new gateway; nobody is recovered.
        def reconnected() -> bool:
            rows = pool.wait_connected(a, b)
            return all(rows[e]["connected_at"] != connected_at[e] for e in connected_at)

        assert_eventually(reconnected, timeout_s=30, message="both executors reconnected")
        time.sleep(4)  # past the 3 s grace: a wrongly declared death would show now
        assert pool.decisions() == []
    # Recovery works after the restart.
    pool.run(a, f"wf-after-{role}", n=6, step_s=0.5)
    a.kill()
    assert pool.wait_success(f"wf-after-{role}", timeout_s=60).executor_id == b.executor_id
    assert {d.dead_executor_id for d in pool.decisions(RecoveryStep.DECLARED_DEAD)} == {
        a.executor_id
    }


def test_baton_up_exits_non_zero_only_when_it_cannot_go_on(tmp_path: Path) -> None:
    """Its data directory gone, a role that dies cannot be restarted: ``baton up`` stops
    everything and exits 1 (a signal is the only other way out, with 0)."""
    process, _console_port, log = run_up(tmp_path)
    try:
        wait_until_up(process, log)
        children = psutil.Process(process.pid).children(recursive=True)
        shutil.rmtree(tmp_path / "data")
        (console,) = [c for c in children if "baton console" in " ".join(c.cmdline()[:4])]
        console.kill()

        assert process.wait(timeout=60) == 1, log.read_text()[-3000:]
        assert f"the data directory {tmp_path / 'data'} is gone" in log.read_text()
        _gone, alive = psutil.wait_procs(children, timeout=10)
        assert alive == [], [p.cmdline() for p in alive]
    finally:
        if process.poll() is None:
            process.kill()
