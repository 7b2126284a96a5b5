"""Faults on a 3-node Apache Kafka cluster (``deploy/local/kafka``, replication 3, min ISR 2) under
Baton's roles as processes (two Faust workers, two gateways behind HAProxy checking ``/readyz``,
the console) and real DBOS executors:

- the second gateway's Kafka traffic (through TCP proxies the test controls, ``tests.tcp_cut``)
  stalled while its executors stay connected: it reports unready and sheds its sessions
  (``gateway.kafka_watchdog``), which reconnect through HAProxy to the other pod before the
  liveness timeout; no live executor is recovered;
- a Faust worker SIGKILLed together with an executor: the other worker takes the partition over,
  rebuilds the app's table from its changelog, and recovers that executor, once;
- a broker SIGKILLed, then started again: nothing is lost, no live executor is recovered, an
  executor that crashes during the outage is recovered, and the audit topic holds every decision;
- the store (a PostgreSQL server of the module's own, ``tests.local_postgres``) stopped for 30 s:
  the console says it is degraded meanwhile (``/readyz`` 503, ``/healthz`` degraded, 503 pages
  and API answers saying so), a crash meanwhile is still recovered, and once the store is back
  the projections catch up: nothing is lost.

One topology for the module (the tests run in order: the worker test leaves one worker). Each
scenario prints its timings.
"""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import pytest

from console.app import STORE_UNREACHABLE
from streams.records import RecoveryStep
from tests.baton_cluster import BatonCluster
from tests.conformance.scenario import ExecutorPool
from tests.dbos_app.harness import ExecutorProcess, recorded_step_ids
from tests.eventually import assert_eventually
from tests.local_haproxy import LocalHaproxy
from tests.local_kafka import LocalKafka, running_kafka
from tests.local_postgres import ThrowawayPostgres, ThrowawayPostgresError
from tests.tcp_cut import TcpCut

pytestmark = [pytest.mark.conformance, pytest.mark.alone, pytest.mark.timeout(600)]

EXECUTORS = 4
QUIET_AFTER_S = 6.0
"""Past the recovery grace period (3 s) and a heartbeat or two: a false recovery would show."""
KILLED_BROKER = 1
"""The broker SIGKILLed: the first of the bootstrap list, leader of about a third of the
partitions."""
EVERY_STEP = (
    RecoveryStep.DECLARED_DEAD,
    RecoveryStep.TARGET_CHOSEN,
    RecoveryStep.SENT,
    RecoveryStep.SUCCEEDED,
)


LIVENESS_TIMEOUT_S = 15.0
"""The workers' liveness timeout (``recovery.policy.Timings``): a pod's executors must be back
on another pod before their last heartbeat is this old."""
CUT_S = LIVENESS_TIMEOUT_S + 2
"""How long the cut gateway stays cut off from Kafka: past the liveness timeout, so that a
session it still held would be recovered."""
STORE_OUTAGE_S = 30.0


@dataclass
class Topology:
    kafka: LocalKafka
    cluster: BatonCluster
    haproxy: LocalHaproxy
    cuts: list[TcpCut]
    """The second gateway's links to the brokers."""
    postgres: ThrowawayPostgres
    """The store's server."""


@pytest.fixture(scope="module")
def three_brokers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    with running_kafka(tmp_path_factory.mktemp("kafka3"), nodes=3, proxied=True) as kafka:
        yield kafka


@pytest.fixture(scope="module")
def store_server() -> Iterator[ThrowawayPostgres]:
    postgres = ThrowawayPostgres()
    try:
        postgres.start()
    except ThrowawayPostgresError as exc:
        pytest.fail(f"a PostgreSQL server of the module's own is required: {exc}")
    try:
        yield postgres
    finally:
        postgres.stop_server()


@pytest.fixture(scope="module")
def topology(
    three_brokers: LocalKafka,
    store_server: ThrowawayPostgres,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Topology]:
    """Two workers, two gateways (the second reaching the brokers through ``cuts``) behind
    HAProxy, and the console, on the three brokers; the store on ``store_server``."""
    workdir = tmp_path_factory.mktemp("faults")
    with ExitStack() as stack:
        cuts = [
            stack.enter_context(TcpCut(proxied_port, listen_port=proxy_port))
            for proxy_port, proxied_port in three_brokers.proxy_routes()
        ]
        through_cuts = ",".join(f"127.0.0.1:{cut.port}" for cut in cuts)
        cluster = BatonCluster(
            three_brokers.bootstrap,
            workdir / "baton",
            workers=2,
            gateways=2,
            database_url=store_server.store_url,
            role_kafka={"gateway2": through_cuts},
        )
        stack.enter_context(cluster)
        haproxy = LocalHaproxy(workdir / "haproxy", cluster.gateway_ports, check_path="/readyz")
        stack.enter_context(haproxy)
        yield Topology(three_brokers, cluster, haproxy, cuts, store_server)


@pytest.fixture
def faulty(topology: Topology) -> tuple[LocalKafka, BatonCluster]:
    return topology.kafka, topology.cluster


def pods_of(pool: ExecutorPool, executors: list[ExecutorProcess]) -> dict[str, str]:
    """Executor id -> the gateway pod holding its session, as the console lists it."""
    rows = pool.cluster.executors(pool.app)
    return {e.executor_id: str(rows[e.executor_id]["gateway"]) for e in executors}


def pod_id(pool: ExecutorPool, role: str) -> str:
    """The pod id of gateway ``role`` among those holding sessions (it ends with its pid)."""
    process = pool.cluster.roles[role].process
    assert process is not None
    pods = set(pods_of(pool, pool.started).values())
    return next(pod for pod in pods if pod.endswith(f"-{process.pid}"))


def probe(port: int, path: str = "/readyz") -> tuple[int, dict[str, Any]]:
    """GET a probe anonymously, as a load balancer or a monitor does: (status, JSON body)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def readyz_status(port: int) -> int:
    return probe(port)[0]


def deciding_worker(cluster: BatonCluster, dead: ExecutorProcess) -> str:
    """The worker that has logged a decision about ``dead`` (one app: one partition, one
    owner)."""
    deciding = [
        name
        for name, role in cluster.roles.items()
        if name.startswith("worker") and f"recovery of {dead.executor_id}" in role.log_text()
    ]
    assert len(deciding) == 1, deciding
    return deciding[0]


def assert_recovered_once(pool: ExecutorPool, dead: list[ExecutorProcess]) -> None:
    """Each of ``dead`` went through every step of a recovery, and succeeded exactly once; nobody
    else was declared dead."""
    decisions = pool.decisions()
    assert {d.dead_executor_id for d in decisions} == {e.executor_id for e in dead}, decisions
    for executor in dead:
        steps = [d.step for d in decisions if d.dead_executor_id == executor.executor_id]
        for step in EVERY_STEP:
            assert step in steps, (executor.executor_id, steps)
        assert steps.count(RecoveryStep.SUCCEEDED) == 1, steps


def assert_listed_success(
    cluster: BatonCluster, app: str, ids: list[str], *, timeout_s: float, message: str
) -> None:
    """The console lists exactly ``ids``, each SUCCESS, within ``timeout_s``."""

    def every_workflow_listed() -> dict[str, str]:
        status, body = cluster.get(f"/api/v1/apps/{app}/workflows?limit=50")
        assert status == 200, body
        listed = {w["workflow_id"]: w["status"] for w in body["workflows"]}
        assert listed == dict.fromkeys(ids, "SUCCESS"), listed
        return listed

    assert_eventually(every_workflow_listed, timeout_s=timeout_s, message=message)


def assert_one_recovery_stored(
    cluster: BatonCluster, app: str, dead: ExecutorProcess, *, timeout_s: float
) -> None:
    """The store holds one recovery of ``app``: ``dead``'s, succeeded, within ``timeout_s``."""

    def recovery_listed() -> list[dict[str, object]]:
        listed = cluster.recoveries(app)
        assert [(r["dead_executor_id"], r["state"]) for r in listed] == [
            (dead.executor_id, "succeeded")
        ], listed
        return listed

    assert_eventually(recovery_listed, timeout_s=timeout_s, message="the recovery in the store")


def checkpointed(pool: ExecutorPool, workflow_id: str) -> int:
    return len(recorded_step_ids(pool.system_db, workflow_id))


def assert_each_step_once(
    executor: ExecutorProcess, workflow_id: str, steps: int, *, crashed_after: int | None = None
) -> None:
    """Every step ran, and once; with ``crashed_after`` (the steps checkpointed when its
    executor was killed) the step that was running then may have run again (DBOS re-runs a step
    that did not finish), no other."""
    ran = sorted(number for number, _ in executor.steps_of(workflow_id))
    assert set(ran) == set(range(1, steps + 1)), (workflow_id, ran)
    again = [number for number in set(ran) if ran.count(number) > 1]
    allowed = [] if crashed_after is None else [crashed_after + 1]
    assert again in ([], allowed), (workflow_id, ran, crashed_after)


def test_a_gateway_cut_off_from_kafka_sheds_its_sessions_to_the_other_pod(
    topology: Topology, pool_on: Callable[[BatonCluster], ExecutorPool]
) -> None:
    cluster, haproxy = topology.cluster, topology.haproxy
    pool = pool_on(cluster)
    executors = [pool.start("v1", conductor_url=haproxy.url) for _ in range(EXECUTORS)]
    pool.wait_connected(*executors)
    cut_pod = pod_id(pool, "gateway2")
    before = pods_of(pool, executors)
    moved = [e for e in executors if before[e.executor_id] == cut_pod]
    assert moved, before
    assert len(moved) < len(executors), before  # the other pod holds some too
    ids = [f"wf-cut-{number}" for number in range(EXECUTORS)]
    for executor, workflow_id in zip(executors, ids, strict=True):
        pool.run(executor, workflow_id, n=12, step_s=0.5)

    cut_at = time.monotonic()
    for cut in topology.cuts:
        cut.hold()
    try:
        assert_eventually(
            lambda: readyz_status(cluster.gateway_ports[1]) == 503,
            timeout_s=LIVENESS_TIMEOUT_S,
            interval_s=0.1,
            message="the cut gateway unready",
        )
        unready_s = time.monotonic() - cut_at

        def on_the_other_pod() -> bool:
            pods = pods_of(pool, executors)
            assert all(pods[e.executor_id] != cut_pod for e in moved), pods
            return True

        assert_eventually(
            on_the_other_pod, timeout_s=LIVENESS_TIMEOUT_S, interval_s=0.1, message="moved"
        )
        pool.wait_connected(*executors)
        moved_s = time.monotonic() - cut_at
        time.sleep(max(0.0, CUT_S - (time.monotonic() - cut_at)))
    finally:
        for cut in topology.cuts:
            cut.release()
    released_at = time.monotonic()
    assert_eventually(
        lambda: readyz_status(cluster.gateway_ports[1]) == 200,
        timeout_s=60,
        interval_s=0.2,
        message="the gateway ready again",
    )
    ready_again_s = time.monotonic() - released_at

    # Shed well before the liveness timeout; how soon the executors are back is DBOS's
    # reconnect loop (printed); that none was recovered is asserted below.
    assert unready_s + 2 < LIVENESS_TIMEOUT_S, unready_s
    for executor, workflow_id in zip(executors, ids, strict=True):
        row = pool.wait_success(workflow_id, timeout_s=90)
        assert row.executor_id == executor.executor_id, (workflow_id, row)
        assert_each_step_once(executor, workflow_id, 12)
    time.sleep(QUIET_AFTER_S)
    assert pool.decisions() == [], pool.decisions()
    states = {row["state"] for row in cluster.executors(pool.app).values()}
    assert states == {"connected"}, cluster.executors(pool.app)
    assert "cannot reach Kafka" not in cluster.roles["gateway"].log_text()
    assert "closing" in cluster.roles["gateway2"].log_text()
    print(
        f"gateway cut off from Kafka for {CUT_S:g}s: unready after {unready_s:.1f}s; its "
        f"{len(moved)} executors on the other pod, every executor connected, {moved_s:.1f}s "
        f"after the cut (liveness timeout {LIVENESS_TIMEOUT_S:g}s); ready again "
        f"{ready_again_s:.1f}s after the cut ended; 0 recoveries"
    )
    pool.terminate_all()


def test_a_killed_worker_is_taken_over_and_a_crash_after_it_recovered_once(
    faulty: tuple[LocalKafka, BatonCluster], pool_on: Callable[[BatonCluster], ExecutorPool]
) -> None:
    _, cluster = faulty
    pool = pool_on(cluster)
    first, second, *rest = pool.start_connected(EXECUTORS)
    # Which worker owns this app's partition: the one that recovers a first crash.
    pool.run(first, "wf-before", n=4, step_s=0.3)
    first.kill()
    first_done = checkpointed(pool, "wf-before")
    pool.wait_success("wf-before")
    owner = deciding_worker(cluster, first)
    heir = next(name for name in ("worker", "worker2") if name != owner)
    # A long workflow on the second executor, then the owner and that executor die together:
    # only the heir can recover it, once it has taken the partition over and rebuilt the app's
    # liveness table from its changelog.
    pool.run(second, "wf-after", n=12, step_s=0.5)
    killed_at = time.monotonic()
    cluster.roles[owner].stop(signal.SIGKILL)
    second.kill()
    second_done = checkpointed(pool, "wf-after")

    def heir_recovered() -> bool:
        log = cluster.roles[heir].log_text()
        return f"recovery of {second.executor_id}: succeeded" in log

    assert_eventually(
        heir_recovered, timeout_s=90, interval_s=0.2, message=f"{heir} recovers the crash"
    )
    decided_s = time.monotonic() - killed_at
    row = pool.wait_success("wf-after", timeout_s=90)
    recovered_s = time.monotonic() - killed_at

    assert row.executor_id in {e.executor_id for e in rest}, row
    assert_each_step_once(second, "wf-after", 12, crashed_after=second_done)
    assert_each_step_once(first, "wf-before", 4, crashed_after=first_done)
    assert deciding_worker(cluster, second) == heir
    time.sleep(QUIET_AFTER_S)
    assert_recovered_once(pool, [first, second])
    states = cluster.executors(pool.app)
    assert {states[e.executor_id]["state"] for e in rest} == {"connected"}, states
    print(
        f"worker SIGKILL with an executor SIGKILL: {heir} took the partition over and its "
        f"recovery succeeded {decided_s:.1f}s after (Faust session timeout 6 s); the workflow "
        f"SUCCESS on a survivor {recovered_s:.1f}s after"
    )


def test_a_killed_broker_loses_nothing_and_a_crash_meanwhile_is_recovered(
    faulty: tuple[LocalKafka, BatonCluster], pool_on: Callable[[BatonCluster], ExecutorPool]
) -> None:
    kafka, cluster = faulty
    pool = pool_on(cluster)
    executors = pool.start_connected(EXECUTORS)
    tag = uuid4().hex[:4]
    ids = [f"wf-{tag}-{number}" for number in range(EXECUTORS)]
    # The crashed executor's workflow starts last: it must still run when the broker dies.
    for executor, workflow_id in reversed(list(zip(executors, ids, strict=True))):
        pool.run(executor, workflow_id, n=8, step_s=0.5)
    crashed, *survivors = executors

    killed_at = time.monotonic()
    kafka.kill_node(KILLED_BROKER)
    crashed.kill()  # during the outage
    crashed_at = time.monotonic()
    crashed_done = checkpointed(pool, ids[0])
    row = pool.wait_success(ids[0], timeout_s=90)
    recovered_s = time.monotonic() - crashed_at
    assert row.executor_id in {e.executor_id for e in survivors}, row
    print(f"broker SIGKILL: the crash recovered {recovered_s:.1f}s after", flush=True)

    restarting = time.monotonic()
    kafka.start_node(KILLED_BROKER)
    back_s = time.monotonic() - restarting
    outage_s = time.monotonic() - killed_at

    for executor, workflow_id in zip(executors, ids, strict=True):
        finished = pool.wait_success(workflow_id, timeout_s=90)
        if executor is not crashed:
            assert finished.executor_id == executor.executor_id, (workflow_id, finished)
        crashed_after = crashed_done if executor is crashed else None
        assert_each_step_once(executor, workflow_id, 8, crashed_after=crashed_after)

    assert_listed_success(cluster, pool.app, ids, timeout_s=30, message="every workflow projected")
    time.sleep(QUIET_AFTER_S)
    assert_recovered_once(pool, [crashed])  # the audit topic holds every step of it

    assert_one_recovery_stored(cluster, pool.app, crashed, timeout_s=20)
    states = cluster.executors(pool.app)
    assert {states[e.executor_id]["state"] for e in survivors} == {"connected"}, states
    print(
        f"broker {KILLED_BROKER} SIGKILL: an executor crashed during the outage was recovered "
        f"(workflow SUCCESS) {recovered_s:.1f}s after its crash; the broker served again "
        f"{back_s:.1f}s after its start ({outage_s:.1f}s outage)"
    )


def test_the_store_away_for_30s_loses_nothing_and_the_console_says_degraded(
    topology: Topology, pool_on: Callable[[BatonCluster], ExecutorPool]
) -> None:
    cluster, postgres = topology.cluster, topology.postgres
    pool = pool_on(cluster)
    executors = pool.start_connected(3)
    ids = [f"wf-store-{number}" for number in range(len(executors))]
    for executor, workflow_id in zip(executors, ids, strict=True):
        pool.run(executor, workflow_id, n=6, step_s=0.5)
    crashed, *survivors = executors

    down_at = time.monotonic()
    postgres.stop_server()
    try:
        degraded_s, recovered_s, crashed_done = degraded_while_away(
            cluster, pool, ids, crashed, survivors, down_at
        )
    finally:
        postgres.start_server()
    up_at = time.monotonic()

    assert_listed_success(cluster, pool.app, ids, timeout_s=60, message="the projections caught up")
    caught_up_s = time.monotonic() - up_at
    assert readyz_status(cluster.console_port) == 200

    assert_one_recovery_stored(cluster, pool.app, crashed, timeout_s=30)
    states = cluster.executors(pool.app)
    assert states[crashed.executor_id]["state"] == "recovered", states
    assert {states[e.executor_id]["state"] for e in survivors} == {"connected"}, states
    assert_recovered_once(pool, [crashed])
    for executor, workflow_id in zip(executors, ids, strict=True):
        crashed_after = crashed_done if executor is crashed else None
        assert_each_step_once(executor, workflow_id, 6, crashed_after=crashed_after)
    print(
        f"store stopped for {STORE_OUTAGE_S:g}s: the console degraded {degraded_s:.1f}s after; a "
        f"crash meanwhile recovered in {recovered_s:.1f}s; the projections caught up "
        f"{caught_up_s:.1f}s after the store was back"
    )


def degraded_while_away(
    cluster: BatonCluster,
    pool: ExecutorPool,
    ids: list[str],
    crashed: ExecutorProcess,
    survivors: list[ExecutorProcess],
    down_at: float,
) -> tuple[float, float, int]:
    """While the store is away: the console says degraded, and a crash is still recovered;
    returns (degraded after, recovered after, steps checkpointed at the crash), and returns
    ``STORE_OUTAGE_S`` after ``down_at``."""

    def unready() -> dict[str, str]:
        status, body = probe(cluster.console_port)
        assert status == 503, body
        assert "store" in body["unreachable"], body
        return dict(body["unreachable"])

    assert_eventually(unready, timeout_s=15, interval_s=0.2, message="the console unready")
    degraded_s = time.monotonic() - down_at
    status, body = probe(cluster.console_port, "/healthz")
    assert (status, body["status"]) == (200, "degraded"), body
    status, body = cluster.get(f"/api/v1/apps/{pool.app}/workflows")
    assert (status, body) == (503, {"error": STORE_UNREACHABLE}), body
    status, page = cluster.get(f"/apps/{pool.app}", headers={"Accept": "text/html"})
    assert status == 503, page
    assert "Baton is degraded" in page["text"], page

    crashed.kill()  # while the store is away: recovery needs only Kafka
    crashed_at = time.monotonic()
    crashed_done = checkpointed(pool, ids[0])
    row = pool.wait_success(ids[0], timeout_s=60)
    recovered_s = time.monotonic() - crashed_at
    assert row.executor_id in {e.executor_id for e in survivors}, row
    time.sleep(max(0.0, STORE_OUTAGE_S - (time.monotonic() - down_at)))
    return degraded_s, recovered_s, crashed_done
