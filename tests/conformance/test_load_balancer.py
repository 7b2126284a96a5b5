"""Gateway pods behind HAProxy, as deployed: executors of two application versions use one URL;
a pod killed, every pod restarted in turn, the load balancer itself restarted, or the network
between executors and HAProxy stalled or reset (``tests.tcp_cut``) cuts sessions, and the
executors come back through HAProxy to a pod that serves. No live executor is ever recovered
(however short the grace of a lone abnormal close), and every workflow running meanwhile
finishes once.

Each scenario prints its timings (how long until every executor is listed connected again).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator

import pytest

from streams.records import ExecutorConnected, ExecutorDisconnected
from tests.baton_cluster import BatonCluster
from tests.conformance.scenario import ExecutorPool
from tests.dbos_app.harness import ExecutorProcess
from tests.eventually import assert_eventually
from tests.local_haproxy import LocalHaproxy
from tests.tcp_cut import TcpCut

pytestmark = [pytest.mark.conformance, pytest.mark.alone, pytest.mark.timeout(600)]

EXECUTORS_PER_VERSION = 3
"""Six executors, two application versions (the machine has two cores)."""
QUIET_AFTER_S = 6.0
"""Past the recovery grace period (3 s) and a heartbeat or two: a false recovery would show."""
BLIP_S = 1.0
"""The network blip: nothing gets through between executors and HAProxy for this long."""
LONE_RESETS = 8
"""How many times one executor's own link is reset while the others' stay up."""


@pytest.fixture(scope="module")
def balanced(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[BatonCluster, LocalHaproxy]]:
    """Two gateway pods behind HAProxy, one worker, the console."""
    workdir = tmp_path_factory.mktemp("balanced")
    cluster = BatonCluster(kafka_bootstrap, workdir / "baton", gateways=2)
    with cluster, LocalHaproxy(workdir / "haproxy", cluster.gateway_ports) as haproxy:
        yield cluster, haproxy


@pytest.fixture
def fleet(
    balanced: tuple[BatonCluster, LocalHaproxy],
    pool_on: Callable[[BatonCluster], ExecutorPool],
) -> tuple[ExecutorPool, LocalHaproxy, list[ExecutorProcess]]:
    """This test's app: executors of v1 and v2, every one connected through HAProxy."""
    cluster, haproxy = balanced
    pool = pool_on(cluster)
    executors = [
        pool.start(version, conductor_url=haproxy.url)
        for version in ("v1", "v2")
        for _ in range(EXECUTORS_PER_VERSION)
    ]
    pool.wait_connected(*executors)
    return pool, haproxy, executors


@pytest.fixture
def cut_fleet(
    balanced: tuple[BatonCluster, LocalHaproxy],
    pool_on: Callable[[BatonCluster], ExecutorPool],
) -> Iterator[tuple[ExecutorPool, TcpCut, list[ExecutorProcess]]]:
    """This test's app: executors of v1 and v2 reaching HAProxy through one TCP forwarder the
    test controls (the network in between)."""
    cluster, haproxy = balanced
    with TcpCut(haproxy.port) as cut:
        pool = pool_on(cluster)
        executors = [
            pool.start(version, conductor_url=cut.url)
            for version in ("v1", "v2")
            for _ in range(EXECUTORS_PER_VERSION)
        ]
        pool.wait_connected(*executors)
        try:
            yield pool, cut, executors
        finally:
            pool.terminate_all()  # before the forwarder goes: no reconnect storm into nothing


def pods_of(pool: ExecutorPool, executors: list[ExecutorProcess]) -> dict[str, str]:
    """Executor id -> the gateway pod holding its session, as the console lists it."""
    rows = pool.cluster.executors(pool.app)
    return {e.executor_id: str(rows[e.executor_id]["gateway"]) for e in executors}


def status_of(pool: ExecutorPool, workflow_id: str) -> str:
    return str(pool.cluster.api(f"/api/v1/apps/{pool.app}/workflows/{workflow_id}")["status"])


def pid_of(cluster: BatonCluster, role: str) -> int:
    process = cluster.roles[role].process
    assert process is not None, role
    return process.pid


def seconds_until_all_connected(
    pool: ExecutorPool, executors: list[ExecutorProcess], since: float
) -> float:
    pool.wait_connected(*executors)
    return time.monotonic() - since


def run_workflows(pool: ExecutorPool, executors: list[ExecutorProcess], tag: str) -> list[str]:
    """A ``multi_step`` workflow on every executor, each past its first checkpoint."""
    ids = []
    for number, executor in enumerate(executors):
        workflow_id = f"wf-{tag}-{number}"
        pool.run(executor, workflow_id, n=8, step_s=0.5)
        ids.append(workflow_id)
    return ids


def assert_each_finished_once(
    pool: ExecutorPool, executors: list[ExecutorProcess], workflow_ids: list[str]
) -> None:
    for executor, workflow_id in zip(executors, workflow_ids, strict=True):
        row = pool.wait_success(workflow_id, timeout_s=90)
        assert row.executor_id == executor.executor_id, (workflow_id, row)
        steps = [number for number, _ in executor.steps_of(workflow_id)]
        assert sorted(steps) == list(range(1, 9)), (workflow_id, steps)


def assert_no_recovery(pool: ExecutorPool) -> None:
    time.sleep(QUIET_AFTER_S)
    assert pool.decisions() == [], pool.decisions()
    states = {row["state"] for row in pool.cluster.executors(pool.app).values()}
    assert states == {"connected"}, pool.cluster.executors(pool.app)


def test_sessions_spread_over_both_pods_and_commands_reach_either(
    fleet: tuple[ExecutorPool, LocalHaproxy, list[ExecutorProcess]],
) -> None:
    pool, _, executors = fleet
    pods = pods_of(pool, executors)
    assert len(set(pods.values())) == 2, pods
    # A console action reaches an executor whatever pod holds it: cancel a workflow on each pod.
    by_pod = {pod: executor_id for executor_id, pod in pods.items()}
    holders = [next(e for e in executors if e.executor_id == eid) for eid in by_pod.values()]
    ids = run_workflows(pool, holders, "cancel")
    for workflow_id in ids:
        status, body = pool.cluster.post(
            f"/api/v1/apps/{pool.app}/workflows/{workflow_id}/cancel", {}
        )
        assert status == 200, body
    for workflow_id in ids:

        def cancelled(wid: str = workflow_id) -> bool:
            return status_of(pool, wid) == "CANCELLED"

        assert_eventually(cancelled, timeout_s=30, message=f"{workflow_id} cancelled")


def test_a_rolling_restart_of_every_pod_recovers_nothing(
    fleet: tuple[ExecutorPool, LocalHaproxy, list[ExecutorProcess]],
) -> None:
    pool, _, executors = fleet
    cluster = pool.cluster
    ids = run_workflows(pool, executors, "rolling")
    for pod in ("gateway", "gateway2"):
        restarting = time.monotonic()
        cluster.restart(pod, signal.SIGTERM)
        took = seconds_until_all_connected(pool, executors, restarting)
        print(f"rolling restart of {pod}: every executor connected {took:.1f}s after SIGTERM")
    assert_each_finished_once(pool, executors, ids)
    assert_no_recovery(pool)


def test_a_killed_pod_moves_its_executors_to_the_other_without_recovery(
    fleet: tuple[ExecutorPool, LocalHaproxy, list[ExecutorProcess]],
) -> None:
    pool, _, executors = fleet
    cluster = pool.cluster
    ids = run_workflows(pool, executors, "podkill")
    before = pods_of(pool, executors)
    killed_pod = before[executors[0].executor_id]
    killed_role = next(  # a pod's id ends with its process id
        name for name in ("gateway", "gateway2") if killed_pod.endswith(f"-{pid_of(cluster, name)}")
    )
    moved = [e for e in executors if before[e.executor_id] == killed_pod]
    killed_at = time.monotonic()
    cluster.roles[killed_role].stop(signal.SIGKILL)

    def on_the_other_pod() -> dict[str, str]:
        pods = pods_of(pool, executors)
        assert all(pods[e.executor_id] != killed_pod for e in moved), pods
        return pods

    assert_eventually(on_the_other_pod, timeout_s=20, message="sessions on the surviving pod")
    took = seconds_until_all_connected(pool, executors, killed_at)
    print(f"SIGKILL of {killed_role}: {len(moved)} executors reconnected in {took:.1f}s")
    assert_each_finished_once(pool, executors, ids)
    assert_no_recovery(pool)
    cluster.restart(killed_role, signal.SIGTERM)  # the module's next test has both pods


def test_restarting_the_load_balancer_recovers_nothing(
    fleet: tuple[ExecutorPool, LocalHaproxy, list[ExecutorProcess]],
) -> None:
    pool, haproxy, executors = fleet
    ids = run_workflows(pool, executors, "lb")
    restarting = time.monotonic()
    haproxy.restart()  # every session is cut at once
    took = seconds_until_all_connected(pool, executors, restarting)
    print(f"HAProxy restart: every executor connected {took:.1f}s after it")
    assert_each_finished_once(pool, executors, ids)
    assert_no_recovery(pool)


def closes_and_reopens(pool: ExecutorPool, executor_id: str) -> list[tuple[int, int | None]]:
    """Each close of ``executor_id``'s sessions and its next connect, on the events' clocks."""
    return [
        (closed, None if opened is None else opened[1])
        for closed, opened in reopens(pool, executor_id)
    ]


def reopens(pool: ExecutorPool, executor_id: str) -> list[tuple[int, tuple[int, int] | None]]:
    """Each close of ``executor_id``'s sessions and the next session's (accepted, connected)
    times: the socket accepted by a pod, then its executor_info answered."""
    events = [
        r
        for r in pool.cluster.topic_records("executor-events", pool.app)
        if (isinstance(r, ExecutorDisconnected) and r.executor_id == executor_id)
        or (isinstance(r, ExecutorConnected) and r.session.info.executor_id == executor_id)
    ]
    closes = sorted(r.ts_ms for r in events if isinstance(r, ExecutorDisconnected))
    opens = sorted(
        (r.session.connected_at_ms, r.ts_ms) for r in events if isinstance(r, ExecutorConnected)
    )
    return [(c, next((o for o in opens if o[0] > c), None)) for c in closes]


def test_a_one_second_network_stall_recovers_nothing(
    cut_fleet: tuple[ExecutorPool, TcpCut, list[ExecutorProcess]],
) -> None:
    pool, cut, executors = cut_fleet
    ids = run_workflows(pool, executors, "stall")
    stalled = time.monotonic()
    cut.stall(BLIP_S)  # nothing gets through; every socket stays open
    took = seconds_until_all_connected(pool, executors, stalled)
    closes = sum(len(closes_and_reopens(pool, e.executor_id)) for e in executors)
    print(
        f"{BLIP_S:g}s stall: {closes} sessions closed; every executor connected {took:.1f}s after"
    )
    assert_each_finished_once(pool, executors, ids)
    assert_no_recovery(pool)


def test_a_one_second_network_reset_of_every_link_recovers_nothing(
    cut_fleet: tuple[ExecutorPool, TcpCut, list[ExecutorProcess]],
) -> None:
    pool, cut, executors = cut_fleet
    ids = run_workflows(pool, executors, "reset")
    cut_at = time.monotonic()
    assert cut.reset() == len(executors)  # every link dies at once (abnormal closes, 1006) ...
    cut.stall(BLIP_S)  # ... and nothing gets through for a second
    took = seconds_until_all_connected(pool, executors, cut_at)
    gaps = [
        (reopened - closed) / 1000
        for e in executors
        for closed, reopened in closes_and_reopens(pool, e.executor_id)
        if reopened is not None
    ]
    print(
        f"reset + {BLIP_S:g}s stall: every executor connected {took:.1f}s after; close -> "
        f"reconnect {min(gaps):.2f}-{max(gaps):.2f}s (the crowd's grace is 3 s)"
    )
    assert_each_finished_once(pool, executors, ids)
    assert_no_recovery(pool)


def test_a_lone_link_reset_is_back_within_the_short_grace(
    fleet: tuple[ExecutorPool, LocalHaproxy, list[ExecutorProcess]],
) -> None:
    """The case the short grace (1.8 s) bets on: one live executor's link dies alone, and DBOS
    reconnects a second later; Baton must see it back before declaring it dead."""
    pool, haproxy, executors = fleet
    with TcpCut(haproxy.port) as cut:
        lone = pool.start("v1", conductor_url=cut.url)
        pool.wait_connected(lone)
        ids = run_workflows(pool, [*executors, lone], "lone")
        for number in range(1, LONE_RESETS + 1):
            assert cut.reset() == 1

            def back(count: int = number) -> bool:
                seen = closes_and_reopens(pool, lone.executor_id)
                assert len(seen) == count, seen
                assert seen[-1][1] is not None, seen
                return True

            assert_eventually(back, timeout_s=20, message="the lone executor back")
        gaps = [
            None if opened is None else ((opened[0] - closed) / 1000, (opened[1] - closed) / 1000)
            for closed, opened in reopens(pool, lone.executor_id)
        ]
        print(f"{LONE_RESETS} lone resets: close -> (accepted, connected) again {gaps} s")
        assert len(gaps) == LONE_RESETS, gaps
        assert_each_finished_once(pool, [*executors, lone], ids)
        assert_no_recovery(pool)
        lone.terminate()
