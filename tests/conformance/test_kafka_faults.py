"""Faults on a 3-node Apache Kafka cluster (``deploy/local/kafka``, replication 3, min ISR 2) under
Baton's roles as processes (two Faust workers, two gateways behind HAProxy checking ``/readyz``,
the console) and a fleet of real DBOS executors: two apps (each its own key and system
database), each of two application versions, twelve executors in all, every one connected
through HAProxy and so spread over both gateways.

- the second gateway's Kafka traffic (through TCP proxies the test controls, ``tests.tcp_cut``)
  stalled while its executors stay connected: it reports unready and sheds its sessions
  (``gateway.kafka_watchdog``), which are back, listed connected on the other pod, well inside
  the liveness timeout; no live executor is recovered;
- every broker stopped past the liveness timeout, then started again: every gateway reports
  unready and sheds its sessions meanwhile; once Kafka is back the executors are listed
  connected again, no live executor is recovered, and a crash after it is recovered once;
- a Faust worker SIGKILLed together with an executor: the other worker takes the partition over,
  rebuilds the app's table from its changelog, and recovers that executor, once;
- a broker SIGKILLed, then started again: nothing is lost, no live executor is recovered, an
  executor that crashes during the outage is recovered, and the audit topic holds every decision;
- the store (a PostgreSQL server of the module's own, ``tests.local_postgres``) stopped for 30 s:
  the console says it is degraded meanwhile (``/readyz`` 503, ``/healthz`` degraded, 503 pages
  and API answers saying so), a crash meanwhile is still recovered, and once the store is back
  the projections catch up: nothing is lost.

One topology and one fleet for the module (the tests run in order: the worker test leaves one
worker). The fleet's executors live across the scenarios; only the ones a scenario kills are
replaced (side by side, before the next scenario), and every check of recoveries covers the
whole module: each killed executor recovered exactly once, no other executor of either app ever.
Each scenario prints its timings.
"""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any
from uuid import uuid4

import pytest

from console.app import STORE_UNREACHABLE
from streams.records import RecoveryStep
from tests.baton_cluster import BatonCluster
from tests.conformance.scenario import ExecutorPool, crash_mid_workflow
from tests.dbos_app.harness import ExecutorProcess, read_workflow, recorded_step_ids
from tests.dbos_app.system_db import create_database, drop_database
from tests.eventually import assert_eventually
from tests.local_haproxy import LocalHaproxy
from tests.local_kafka import LocalKafka, running_kafka
from tests.local_postgres import ThrowawayPostgres, ThrowawayPostgresError
from tests.tcp_cut import TcpCut

pytestmark = [pytest.mark.conformance, pytest.mark.alone, pytest.mark.timeout(900)]

APPS = 2
APP_VERSIONS = ("v1", "v2")
PER_VERSION = 3
"""Executors of each app and application version: 2 x 2 x 3 = 12 in the fleet (the issue asks
10 or more; the machine has 2 cores)."""
READY_TIMEOUT_S = 180.0
"""For an executor of the fleet to print READY: a dozen start side by side on 2 cores, which
other work may share (one alone starts in 2-10 s)."""
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
"""The workers' liveness timeout (``recovery.policy.RecoveryTimings``): a pod's executors must
be back on another pod before their last heartbeat is this old."""
HEARTBEAT_INTERVAL_S = 2.0
"""The gateways' heartbeat interval (``gateway.config``): the last heartbeat of a pod that
reached the workers may be this much older than the cut."""
SAFETY_S = 3.0
"""Left unused of the liveness timeout when the cut pod's executors are back: the scheduling
delays of a loaded 2-core machine (a reconnect or a projection a second or two late)."""
BACK_BY_S = LIVENESS_TIMEOUT_S - HEARTBEAT_INTERVAL_S - SAFETY_S
"""The cut pod's executors are listed connected on the other pod this soon after the cut, or
the margin is too thin: the liveness timeout runs from their last heartbeat, up to
``HEARTBEAT_INTERVAL_S`` before the cut."""
CUT_S = LIVENESS_TIMEOUT_S + 2
"""How long the cut gateway stays cut off from Kafka, and how long every broker stays stopped:
past the liveness timeout, so that a session still held, or still counted as alive, would be
recovered."""
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


@dataclass
class FleetApp:
    """One app of the fleet: its executors (through its pool) and those a scenario killed."""

    pool: ExecutorPool
    killed: list[ExecutorProcess] = field(default_factory=list)
    falsely_dead: set[str] = field(default_factory=set)
    """Live executors found declared dead: the scenario that caused it fails for them; the
    scenarios after it do not fail again for the same ones."""

    def live(self) -> list[ExecutorProcess]:
        return [e for e in self.pool.started if e not in self.killed]

    def kill(self, executor: ExecutorProcess) -> None:
        """SIGKILL ``executor`` (a crash); it must be recovered, once."""
        executor.kill()
        self.killed.append(executor)

    def version_of(self, executor: ExecutorProcess) -> str:
        return executor.config.app_version or ""


@dataclass
class Fleet:
    """The module's executors: ``PER_VERSION`` of each app and application version, live."""

    cluster: BatonCluster
    conductor_url: str
    """HAProxy's: every executor connects through it."""
    apps: list[FleetApp]

    def live(self) -> list[tuple[FleetApp, ExecutorProcess]]:
        return [(app, executor) for app in self.apps for executor in app.live()]

    def top_up(self) -> list[ExecutorProcess]:
        """Replace the executors killed since the last top-up (spawned side by side, waited
        for once); returns the new ones."""
        spawned = [
            (
                app,
                app.pool.spawn(
                    version, conductor_url=self.conductor_url, ready_timeout_s=READY_TIMEOUT_S
                ),
            )
            for app in self.apps
            for version in APP_VERSIONS
            for _ in range(PER_VERSION - sum(app.version_of(e) == version for e in app.live()))
        ]
        for _, executor in spawned:
            executor.wait_ready()
        self.wait_connected()
        return [executor for _, executor in spawned]

    def wait_connected(self) -> None:
        """Every live executor of every app listed connected."""
        for app in self.apps:
            app.pool.wait_connected(*app.live())

    def pods(self) -> dict[str, str]:
        """Executor id -> the gateway pod holding its session, as the console lists it."""
        pods: dict[str, str] = {}
        for app in self.apps:
            rows = self.cluster.executors(app.pool.app)
            pods.update({e.executor_id: str(rows[e.executor_id]["gateway"]) for e in app.live()})
        return pods

    def pod_id(self, role: str) -> str:
        """The pod id of gateway ``role`` among those holding sessions (it ends with its pid)."""
        process = self.cluster.roles[role].process
        assert process is not None
        return next(pod for pod in set(self.pods().values()) if pod.endswith(f"-{process.pid}"))

    def assert_connected(self) -> None:
        """The console lists every live executor connected, and every killed one recovered."""
        for app in self.apps:
            rows = self.cluster.executors(app.pool.app)
            started = [e for e in app.pool.started if e.executor_id not in app.falsely_dead]
            states = {e.executor_id: rows[e.executor_id]["state"] for e in started}
            expected = {
                e.executor_id: "recovered" if e in app.killed else "connected" for e in started
            }
            assert states == expected, rows

    def assert_recoveries(self) -> None:
        """Over the whole module, in each app: every killed executor went through every step
        of a recovery and succeeded exactly once; no other executor was ever declared dead."""
        for app in self.apps:
            decisions = app.pool.decisions()
            killed = {e.executor_id for e in app.killed}
            dead = {d.dead_executor_id for d in decisions} - app.falsely_dead
            falsely_dead = dead - killed
            app.falsely_dead |= falsely_dead
            reasons = [
                f"{d.dead_executor_id} at {d.ts_ms}: {d.reason}"
                for d in decisions
                if d.dead_executor_id in falsely_dead and d.step is RecoveryStep.DECLARED_DEAD
            ]
            assert not falsely_dead, f"{app.pool.app}: live executors declared dead: {reasons}"
            assert dead == killed, (app.pool.app, decisions)
            for executor in app.killed:
                steps = [d.step for d in decisions if d.dead_executor_id == executor.executor_id]
                for step in EVERY_STEP:
                    assert step in steps, (executor.executor_id, steps)
                assert steps.count(RecoveryStep.SUCCEEDED) == 1, steps

    def assert_recoveries_stored(self, *, timeout_s: float) -> None:
        """The store holds each app's recoveries: one per killed executor, succeeded."""
        for app in self.apps:

            def stored(app: FleetApp = app) -> list[dict[str, object]]:
                listed = self.cluster.recoveries(app.pool.app)
                got = sorted(
                    (str(r["dead_executor_id"]), str(r["state"]))
                    for r in listed
                    if r["dead_executor_id"] not in app.falsely_dead
                )
                assert got == sorted((e.executor_id, "succeeded") for e in app.killed), listed
                return listed

            assert_eventually(stored, timeout_s=timeout_s, message="the recoveries in the store")


@dataclass(frozen=True)
class Run:
    """A ``multi_step`` workflow run on one executor of the fleet."""

    app: FleetApp
    executor: ExecutorProcess
    workflow_id: str
    steps: int


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


@pytest.fixture(scope="module")
def whole_fleet(topology: Topology, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """The fleet, started side by side and waited for once, through HAProxy."""
    names = [f"baton_f{uuid4().hex[:10]}" for _ in range(APPS)]
    with ExitStack() as stack:
        apps = []
        for index, name in enumerate(names):
            system_db = create_database(name)
            stack.callback(drop_database, name)
            workdir = tmp_path_factory.mktemp(f"fleet{index}")
            pool = ExecutorPool(topology.cluster, f"app{uuid4().hex[:8]}", system_db, workdir)
            stack.callback(pool.terminate_all)
            apps.append(FleetApp(pool))
        fleet = Fleet(topology.cluster, topology.haproxy.url, apps)
        began = time.monotonic()
        fleet.top_up()
        pods = fleet.pods()
        for app in apps:
            held = {pods[e.executor_id] for e in app.live()}
            assert len(held) == 2, f"{app.pool.app}'s executors all on one pod: {pods}"
        print(
            f"\nfleet: {len(fleet.live())} executors ({APPS} apps x {len(APP_VERSIONS)} versions "
            f"x {PER_VERSION}) started side by side and listed connected, over both gateways, "
            f"in {time.monotonic() - began:.1f}s",
            flush=True,
        )
        yield fleet


@pytest.fixture
def fleet(whole_fleet: Fleet) -> Fleet:
    """The fleet at full strength: the executors an earlier scenario killed replaced."""
    began = time.monotonic()
    replaced = whole_fleet.top_up()
    if replaced:
        print(
            f"\n{len(replaced)} killed executors replaced in {time.monotonic() - began:.1f}s",
            flush=True,
        )
    return whole_fleet


def probe(port: int, path: str = "/readyz") -> tuple[int, dict[str, Any]]:
    """GET a probe anonymously, as a load balancer or a monitor does: (status, JSON body)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except (urllib.error.URLError, OSError):
        return 0, {}  # no answer in time: not ready either


def readyz_status(port: int) -> int:
    return probe(port)[0]


def run_everywhere(
    fleet: Fleet,
    prefix: str,
    n: int,
    step_s: float,
    longer: dict[ExecutorProcess, int] | None = None,
) -> list[Run]:
    """A ``multi_step`` workflow of ``n`` steps on every live executor (of ``longer[e]`` steps
    on ``e``: one a scenario kills must still be running then), started together; returns once
    each has checkpointed its first step."""
    tag = uuid4().hex[:4]
    longer = longer or {}
    runs = [
        Run(app, executor, f"wf-{prefix}-{tag}-{number}", longer.get(executor, n))
        for number, (app, executor) in enumerate(fleet.live())
    ]
    for run in runs:
        run.executor.start_workflow("multi_step", run.workflow_id, n=run.steps, step_seconds=step_s)
    for run in runs:
        assert_eventually(
            partial(recorded_step_ids, run.app.pool.system_db, run.workflow_id),
            timeout_s=20,
            message=f"{run.workflow_id} running",
        )
    return runs


def assert_runs_finished(
    runs: list[Run], *, crashed: dict[str, int] | None = None, timeout_s: float = 90
) -> None:
    """Every run SUCCESS and each step run once; a run of a killed executor (``crashed``:
    workflow id -> steps checkpointed at its death) finished on a live executor of its app,
    with only the step running at the crash run again, any other on its own executor."""
    crashed = crashed or {}
    for run in runs:
        row = run.app.pool.wait_success(run.workflow_id, timeout_s=timeout_s)
        if run.workflow_id in crashed:
            assert row.executor_id in {e.executor_id for e in run.app.live()}, row
        else:
            assert row.executor_id == run.executor.executor_id, (run.workflow_id, row)
        assert_each_step_once(
            run.executor, run.workflow_id, run.steps, crashed_after=crashed.get(run.workflow_id)
        )


def wait_taken_over(app: FleetApp, workflow_id: str, *, timeout_s: float = 90) -> None:
    """Wait until a live executor of ``app`` owns ``workflow_id`` (DBOS moves a workflow to the
    executor that recovers it): the crash is recovered, whatever steps are left to run."""

    def owned_by_a_survivor() -> bool:
        row = read_workflow(app.pool.system_db, workflow_id)
        live = {e.executor_id for e in app.live()}
        assert row is not None, workflow_id
        assert row.executor_id in live, row
        return True

    assert_eventually(
        owned_by_a_survivor,
        timeout_s=timeout_s,
        interval_s=0.1,
        message=f"{workflow_id} taken over",
    )


def assert_listed_success(fleet: Fleet, runs: list[Run], *, timeout_s: float, message: str) -> None:
    """The console lists each of ``runs`` SUCCESS within ``timeout_s``."""

    def every_workflow_listed() -> bool:
        for app in fleet.apps:
            status, body = fleet.cluster.get(f"/api/v1/apps/{app.pool.app}/workflows?limit=200")
            assert status == 200, body
            listed = {w["workflow_id"]: w["status"] for w in body["workflows"]}
            ours = {r.workflow_id for r in runs if r.app is app}
            assert {i: listed.get(i) for i in ours} == dict.fromkeys(ours, "SUCCESS"), listed
        return True

    assert_eventually(every_workflow_listed, timeout_s=timeout_s, message=message)


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


def logged_at(cluster: BatonCluster, role: str, text: str, since: float) -> float:
    """When (epoch seconds) ``role`` first logged a line containing ``text`` at or after
    ``since``."""
    for line in cluster.roles[role].log_text().splitlines():
        if text not in line or not line.startswith("{"):
            continue
        stamp = json.loads(line)["timestamp"].replace("Z", "+00:00")
        at = datetime.fromisoformat(stamp).timestamp()
        if at >= since:
            return at
    raise AssertionError(f"{role} logged no {text!r} since {since}")


def readiness_is(port: int, status: int) -> Callable[[], bool]:
    return lambda: readyz_status(port) == status


def log_size(cluster: BatonCluster, role: str) -> int:
    return len(cluster.roles[role].log_text())


def shed_since(cluster: BatonCluster, role: str, offset: int) -> Callable[[], bool]:
    """Whether gateway ``role`` has logged closing its sessions past ``offset`` of its log."""
    return lambda: "sessions with 1012" in cluster.roles[role].log_text()[offset:]


def test_a_gateway_cut_off_from_kafka_sheds_its_sessions_to_the_other_pod(
    topology: Topology, fleet: Fleet
) -> None:
    cluster = topology.cluster
    cut_pod = fleet.pod_id("gateway2")
    before = fleet.pods()
    moved = [e for _, e in fleet.live() if before[e.executor_id] == cut_pod]
    for app in fleet.apps:  # each app has executors on each pod
        assert {before[e.executor_id] == cut_pod for e in app.live()} == {True, False}, before
    runs = run_everywhere(fleet, "cut", n=12, step_s=0.5)
    shed_from = log_size(cluster, "gateway2")

    cut_at, cut_wall = time.monotonic(), time.time()
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
        assert_eventually(
            shed_since(cluster, "gateway2", shed_from),
            timeout_s=LIVENESS_TIMEOUT_S,
            interval_s=0.1,
            message="the cut gateway sheds its sessions",
        )

        def on_the_other_pod() -> bool:
            pods = fleet.pods()
            assert all(pods[e.executor_id] != cut_pod for e in moved), pods
            return True

        assert_eventually(
            on_the_other_pod, timeout_s=LIVENESS_TIMEOUT_S, interval_s=0.1, message="moved"
        )
        fleet.wait_connected()
        back_s = time.monotonic() - cut_at
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

    # Where the time went, from the pods' own log lines.
    shed_logged = logged_at(cluster, "gateway2", "sessions with 1012", cut_wall) - cut_wall
    reconnected = max(
        logged_at(cluster, "gateway", f"executor {e.executor_id} connected", cut_wall)
        for e in moved
    )
    print(
        f"\ngateway cut off from Kafka for {CUT_S:g}s: unready after {unready_s:.1f}s, shed "
        f"after {shed_logged:.1f}s; its {len(moved)} executors (of {len(fleet.live())}, both "
        f"apps) reconnected to the other pod after {reconnected - cut_wall:.1f}s and listed "
        f"connected there after {back_s:.1f}s (liveness timeout {LIVENESS_TIMEOUT_S:g}s, "
        f"asserted under {BACK_BY_S:g}s); ready again {ready_again_s:.1f}s after the cut ended",
        flush=True,
    )
    assert back_s < BACK_BY_S, back_s
    assert_runs_finished(runs)
    time.sleep(QUIET_AFTER_S)
    fleet.assert_recoveries()  # none: nobody killed yet
    fleet.assert_connected()
    assert "cannot reach Kafka" not in cluster.roles["gateway"].log_text()


def test_every_broker_stopped_past_the_liveness_timeout_recovers_no_live_executor(
    topology: Topology, fleet: Fleet
) -> None:
    kafka, cluster = topology.kafka, topology.cluster
    gateways = ["gateway", "gateway2"]
    shed_from = {role: log_size(cluster, role) for role in gateways}
    runs = run_everywhere(fleet, "outage", n=8, step_s=0.5)

    # The brokers stop one by one, the last after a controlled shutdown that finds no quorum
    # (15-20 s): the gateways are watched meanwhile, from the first SIGTERM.
    stopping = time.monotonic()
    unready_s: dict[str, float] = {}
    shed_s: dict[str, float] = {}
    with ThreadPoolExecutor(max_workers=1) as stopper:
        stopped = stopper.submit(kafka.stop)
        try:
            for role, port in zip(gateways, cluster.gateway_ports, strict=True):
                assert_eventually(
                    readiness_is(port, 503),
                    timeout_s=LIVENESS_TIMEOUT_S + 30,
                    interval_s=0.1,
                    message=f"{role} unready",
                )
                unready_s[role] = time.monotonic() - stopping
            for role in gateways:
                assert_eventually(
                    shed_since(cluster, role, shed_from[role]),
                    timeout_s=LIVENESS_TIMEOUT_S + 30,
                    interval_s=0.1,
                    message=f"{role} sheds its sessions",
                )
                shed_s[role] = time.monotonic() - stopping
            stopped.result()
            stop_s = time.monotonic() - stopping
            time.sleep(max(0.0, CUT_S - (time.monotonic() - stopping)))
            for role, port in zip(gateways, cluster.gateway_ports, strict=True):
                assert readyz_status(port) == 503, role  # still: Kafka is away
        finally:
            stopped.result()
            starting = time.monotonic()
            kafka.start(3, proxied=True)
    serving_s = time.monotonic() - starting
    outage_s = time.monotonic() - stopping
    fleet_size = len(fleet.live())
    for port in cluster.gateway_ports:
        assert_eventually(
            readiness_is(port, 200),
            timeout_s=60,
            interval_s=0.2,
            message="every gateway ready again",
        )
    ready_s = time.monotonic() - starting - serving_s
    fleet.wait_connected()
    back_s = time.monotonic() - starting - serving_s
    assert_runs_finished(runs)  # DBOS needs no Kafka: they finished meanwhile
    assert_listed_success(fleet, runs, timeout_s=60, message="the projections caught up")
    projected_s = time.monotonic() - starting - serving_s
    time.sleep(QUIET_AFTER_S)
    fleet.assert_recoveries()  # no live executor recovered
    fleet.assert_connected()

    # A crash once Kafka is back is recovered, once.
    app = fleet.apps[0]
    crashed = app.live()[0]
    workflow_id = f"wf-after-outage-{uuid4().hex[:4]}"
    crashed_done = crash_mid_workflow(crashed, app.pool.system_db, workflow_id, n=8, step_s=0.5)
    app.killed.append(crashed)
    crashed_at = time.monotonic()
    wait_taken_over(app, workflow_id)
    recovered_s = time.monotonic() - crashed_at
    row = app.pool.wait_success(workflow_id, timeout_s=90)
    assert row.executor_id in {e.executor_id for e in app.live()}, row
    assert_each_step_once(crashed, workflow_id, 8, crashed_after=crashed_done)
    time.sleep(QUIET_AFTER_S)
    fleet.assert_recoveries()
    fleet.assert_connected()
    print(
        f"\nevery broker stopped ({stop_s:.1f}s to stop them all; {outage_s:.1f}s outage): "
        "the gateways unready after "
        + ", ".join(f"{unready_s[r]:.1f}s" for r in gateways)
        + " and shed after "
        + ", ".join(f"{shed_s[r]:.1f}s" for r in gateways)
        + f" from the first SIGTERM; Kafka serving {serving_s:.1f}s after its start; once it "
        f"served, every gateway ready after {ready_s:.1f}s, all {fleet_size} executors listed "
        f"connected after {back_s:.1f}s, the projections caught up after {projected_s:.1f}s; "
        f"0 false recoveries; a crash afterwards recovered (its workflow on a survivor) in "
        f"{recovered_s:.1f}s",
        flush=True,
    )


def test_a_killed_worker_is_taken_over_and_a_crash_after_it_recovered_once(
    topology: Topology, fleet: Fleet
) -> None:
    cluster = topology.cluster
    app = fleet.apps[0]
    first, second, *_ = app.live()
    # Which worker owns this app's partition: the one that recovers a first crash.
    before_id = f"wf-before-{uuid4().hex[:4]}"
    first_done = crash_mid_workflow(first, app.pool.system_db, before_id, n=4, step_s=0.3)
    app.killed.append(first)
    app.pool.wait_success(before_id)
    owner = deciding_worker(cluster, first)
    heir = next(name for name in ("worker", "worker2") if name != owner)
    # A long workflow on the second executor, then the owner and that executor die together:
    # only the heir can recover it, once it has taken the partition over and rebuilt the app's
    # liveness table from its changelog.
    after_id = f"wf-after-{uuid4().hex[:4]}"
    app.pool.run(second, after_id, n=12, step_s=0.5)
    killed_at = time.monotonic()
    cluster.roles[owner].stop(signal.SIGKILL)
    app.kill(second)
    second_done = checkpointed(app.pool, after_id)

    def heir_recovered() -> bool:
        log = cluster.roles[heir].log_text()
        return f"recovery of {second.executor_id}: succeeded" in log

    assert_eventually(
        heir_recovered, timeout_s=90, interval_s=0.2, message=f"{heir} recovers the crash"
    )
    decided_s = time.monotonic() - killed_at
    row = app.pool.wait_success(after_id, timeout_s=90)
    recovered_s = time.monotonic() - killed_at

    assert row.executor_id in {e.executor_id for e in app.live()}, row
    assert_each_step_once(second, after_id, 12, crashed_after=second_done)
    assert_each_step_once(first, before_id, 4, crashed_after=first_done)
    assert deciding_worker(cluster, second) == heir
    time.sleep(QUIET_AFTER_S)
    fleet.assert_recoveries()  # the other app: untouched
    fleet.assert_connected()
    print(
        f"\nworker SIGKILL with an executor SIGKILL: {heir} took the partition over and its "
        f"recovery succeeded {decided_s:.1f}s after (Faust session timeout 6 s); the workflow "
        f"SUCCESS on a survivor {recovered_s:.1f}s after",
        flush=True,
    )


def deciding_worker(cluster: BatonCluster, dead: ExecutorProcess) -> str:
    """The worker that declared ``dead`` dead (one app: one partition, one owner; a later step
    may be logged by the other worker if the partition moved meanwhile)."""
    declared = f"recovery of {dead.executor_id}: declared_dead"
    deciding = [
        name
        for name, role in cluster.roles.items()
        if name.startswith("worker") and declared in role.log_text()
    ]
    assert len(deciding) == 1, deciding
    return deciding[0]


def test_a_killed_broker_loses_nothing_and_a_crash_meanwhile_is_recovered(
    topology: Topology, fleet: Fleet
) -> None:
    kafka = topology.kafka
    app = fleet.apps[1]
    crashed = app.live()[0]
    runs = run_everywhere(fleet, "broker", n=8, step_s=0.5, longer={crashed: 16})
    crashed_run = next(r for r in runs if r.executor is crashed)

    killed_at = time.monotonic()
    kafka.kill_node(KILLED_BROKER)
    app.kill(crashed)  # during the outage
    crashed_at = time.monotonic()
    crashed_done = checkpointed(app.pool, crashed_run.workflow_id)
    wait_taken_over(app, crashed_run.workflow_id)
    recovered_s = time.monotonic() - crashed_at
    print(f"\nbroker SIGKILL: the crash recovered {recovered_s:.1f}s after", flush=True)

    restarting = time.monotonic()
    kafka.start_node(KILLED_BROKER)
    back_s = time.monotonic() - restarting
    outage_s = time.monotonic() - killed_at

    assert_runs_finished(runs, crashed={crashed_run.workflow_id: crashed_done})
    assert_listed_success(fleet, runs, timeout_s=30, message="every workflow projected")
    time.sleep(QUIET_AFTER_S)
    fleet.assert_recoveries()  # the audit topic holds every step of it
    fleet.assert_recoveries_stored(timeout_s=20)
    fleet.assert_connected()
    print(
        f"broker {KILLED_BROKER} SIGKILL: an executor crashed during the outage was recovered "
        f"(its workflow on a survivor) {recovered_s:.1f}s after its crash; the broker served again "
        f"{back_s:.1f}s after its start ({outage_s:.1f}s outage); {len(runs)} workflows, "
        f"nothing lost",
        flush=True,
    )


def test_the_store_away_for_30s_loses_nothing_and_the_console_says_degraded(
    topology: Topology, fleet: Fleet
) -> None:
    cluster, postgres = topology.cluster, topology.postgres
    app = fleet.apps[1]
    crashed = app.live()[0]
    # The crash comes once the console has said it is degraded (a few seconds in).
    runs = run_everywhere(fleet, "store", n=6, step_s=0.5, longer={crashed: 30})
    crashed_run = next(r for r in runs if r.executor is crashed)

    down_at = time.monotonic()
    postgres.stop_server()
    try:
        degraded_s, recovered_s, crashed_done = degraded_while_away(
            cluster, app, crashed_run, down_at
        )
    finally:
        postgres.start_server()
    up_at = time.monotonic()

    assert_listed_success(fleet, runs, timeout_s=60, message="the projections caught up")
    caught_up_s = time.monotonic() - up_at
    assert readyz_status(cluster.console_port) == 200

    fleet.assert_recoveries_stored(timeout_s=30)
    fleet.assert_connected()
    fleet.assert_recoveries()
    assert_runs_finished(runs, crashed={crashed_run.workflow_id: crashed_done})
    print(
        f"\nstore stopped for {STORE_OUTAGE_S:g}s: the console degraded {degraded_s:.1f}s after; "
        f"a crash meanwhile recovered in {recovered_s:.1f}s; the projections caught up "
        f"{caught_up_s:.1f}s after the store was back",
        flush=True,
    )


def degraded_while_away(
    cluster: BatonCluster, app: FleetApp, crashed: Run, down_at: float
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
    status, body = cluster.get(f"/api/v1/apps/{app.pool.app}/workflows")
    assert (status, body) == (503, {"error": STORE_UNREACHABLE}), body
    status, page = cluster.get(f"/apps/{app.pool.app}", headers={"Accept": "text/html"})
    assert status == 503, page
    assert "Baton is degraded" in page["text"], page

    app.kill(crashed.executor)  # while the store is away: recovery needs only Kafka
    crashed_at = time.monotonic()
    crashed_done = checkpointed(app.pool, crashed.workflow_id)
    wait_taken_over(app, crashed.workflow_id, timeout_s=60)
    recovered_s = time.monotonic() - crashed_at
    time.sleep(max(0.0, STORE_OUTAGE_S - (time.monotonic() - down_at)))
    return degraded_s, recovered_s, crashed_done
