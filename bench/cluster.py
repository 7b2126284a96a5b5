"""Cluster benchmark: N simulated DBOS executors over several apps, gateway pods and workers.

The issue's cluster target (50,000 executors working end to end) on one machine: an embedded
broker (``--broker kafka``: one Apache Kafka node, ``bench/brokers.py``), ``--gateways`` gateway
processes, ``--workers`` worker processes and a console (``tests.baton_cluster.BatonCluster``,
SQLite store). A process here may hold at most 20,000 open files, so one gateway cannot hold
50,000 sessions: each app's executors are dealt over every pod (as a load balancer would),
``--processes-per-gateway`` client processes each (``bench/swarm.py``).

It prints:

- time until every session is up, and until the console lists every executor of every app as
  connected (``GET /api/v1/apps/{app}/executors``);
- requests the executors answered over a steady window (the capture polls of every app);
- one executor dropped without a close frame: seconds until a survivor is asked to recover it,
  and the console's count of that app's connected executors afterwards;
- RSS and CPU of every role and client process, and the clients' own event-loop lag (an overrun
  of the load generator, which shares the machine's cores, is told from Baton's);
- shutdown: SIGTERM to every role at once -> all exited;
- each role's timer overruns: the times a Faust timer's run outlasted its interval (``mode``
  logs "Timer ... is overlapping"), the sign of a worker tick that no longer keeps up.

Run from the repository root::

    .venv/bin/python bench/cluster.py [--executors 50000] [--apps 5] [--gateways 3]
        [--workers 2] [--processes-per-gateway 2]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's directory leads sys.path: put the repository root there instead.
if sys.path and Path(sys.path[0] or ".").resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)
elif str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import psutil  # noqa: E402

from bench.brokers import Broker, add_broker_option, on_broker  # noqa: E402
from bench.fleet import Sampler, client_processes, verdict  # noqa: E402
from bench.gateway import Clients, kill_and_recover, wait_until_connected  # noqa: E402
from bench.shares import share  # noqa: E402
from bench.swarm import Spec  # noqa: E402
from tests.baton_cluster import BatonCluster  # noqa: E402


@dataclass
class Fleet:
    """The client processes of every gateway pod, seen as one (``bench.gateway.Clients``'s
    reads, summed): a recovery request may reach a survivor on any pod."""

    pods: list[Clients] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def recoveries(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for pod in self.pods:
            with pod.lock:
                found.extend(pod.recoveries)
        return found

    def kill(self, executor_id: str) -> None:
        next(pod for pod in self.pods if executor_id in pod.owner).kill(executor_id)

    def total(self) -> int:
        return sum(pod.total() for pod in self.pods)

    def answered(self) -> int:
        return sum(pod.answered() for pod in self.pods)

    def worst_lag_ms(self) -> float:
        return max((pod.worst_lag_ms() for pod in self.pods), default=0.0)

    def close_causes(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for pod in self.pods:
            total.update(pod.close_causes())
        return total

    def stop(self) -> None:
        for pod in self.pods:
            pod.stop()


def app_specs(cluster: BatonCluster, apps: int, executors: int) -> list[Spec]:
    """One spec per app (``bench-0`` ...), executor numbers unique over the whole fleet."""
    per_app = executors // apps
    return [
        Spec(f"bench-{a}", cluster.create_key(f"bench-{a}"), a * per_app, per_app)
        for a in range(apps)
    ]


def pod_share(spec: Spec, pod: int, pods: int) -> Spec:
    """The part of ``spec``'s executors that connect to gateway pod ``pod``."""
    return Spec(spec.app, spec.key, *share(spec.first, spec.count, pod, pods))


def connected_by_app(cluster: BatonCluster, specs: list[Spec]) -> dict[str, int]:
    return {
        s.app: sum(1 for e in cluster.executors(s.app).values() if e["state"] == "connected")
        for s in specs
    }


def wait_listed(
    cluster: BatonCluster, specs: list[Spec], timeout_s: float
) -> tuple[float | None, dict[str, int]]:
    """Seconds until the console lists every executor of every app connected (``None``: not
    within the timeout), and the last counts seen."""
    start = time.monotonic()
    counts: dict[str, int] = {}
    while time.monotonic() - start < timeout_s:
        try:
            counts = connected_by_app(cluster, specs)
        except (OSError, RuntimeError) as exc:
            print(f"  console: {exc}")
        if all(counts.get(s.app, 0) >= s.count for s in specs):
            return time.monotonic() - start, counts
        time.sleep(2)
    return None, counts


def role_processes(cluster: BatonCluster, broker_pid: int) -> dict[str, psutil.Process]:
    found = {
        name: psutil.Process(role.process.pid)
        for name, role in cluster.roles.items()
        if role.process is not None
    }
    found["broker"] = psutil.Process(broker_pid)
    return found


def shut_down(cluster: BatonCluster) -> float:
    """SIGTERM to every role at once; seconds until all exited (SIGKILL after 120 s)."""
    processes = [r.process for r in cluster.roles.values() if r.process is not None]
    start = time.monotonic()
    for process in processes:
        process.send_signal(signal.SIGTERM)
    waiting = [psutil.Process(p.pid) for p in processes if p.poll() is None]
    _, alive = psutil.wait_procs(waiting, timeout=120)
    elapsed = time.monotonic() - start
    for process in alive:
        print(f"  {process.pid} still running after 120 s: killed")
        process.kill()
    return elapsed


def run(args: argparse.Namespace, bootstrap: str, broker_pid: int) -> int:
    with tempfile.TemporaryDirectory(prefix="baton-cluster-") as tmp:
        cluster = BatonCluster(
            bootstrap, Path(tmp) / "baton", gateways=args.gateways, workers=args.workers
        )
        cluster.start()
        fleet = Fleet()
        sampler: Sampler | None = None
        try:
            specs = app_specs(cluster, args.apps, args.executors)
            n = sum(s.count for s in specs)
            for pod in range(args.gateways):
                clients = Clients()
                share = [pod_share(s, pod, args.gateways) for s in specs]
                clients.start(
                    cluster.conductor_url_of(pod),
                    [s for s in share if s.count],
                    args.processes_per_gateway,
                )
                fleet.pods.append(clients)
            processes = role_processes(cluster, broker_pid)
            for index, pod_clients in enumerate(fleet.pods):
                for name, process in client_processes(pod_clients).items():
                    processes[f"g{index}-{name}"] = process
            print("processes: " + ", ".join(f"{k}={p.pid}" for k, p in processes.items()))
            sampler = Sampler(processes, fleet, f"http://127.0.0.1:{cluster.gateway_port}")
            sampler.start()
            connect_s = wait_until_connected(fleet, n, timeout_s=120 + n / 10)
            print(f"{fleet.total()} sessions up after {connect_s:.1f} s", flush=True)
            listed_s, listed = wait_listed(cluster, specs, args.list_timeout)
            print(
                f"console lists all {n} connected {listed_s:.1f} s after the last connect"
                if listed_s is not None
                else f"console lists {listed} after {args.list_timeout:.0f} s"
            )
            steady_start = time.monotonic()
            answered0 = fleet.answered()
            overruns0 = timer_overruns(cluster)
            time.sleep(args.steady_seconds)
            answered = fleet.answered() - answered0
            overruns_steady = {
                role: n - overruns0.get(role, 0)
                for role, n in timer_overruns(cluster).items()
                if n > overruns0.get(role, 0)
            }
            steady_cpu = sampler.mean_cpu(steady_start)
            rss = sampler.samples[-1][1] if sampler.samples else {}
            victim_app = specs[0]
            victim = f"sim-{victim_app.first + victim_app.count // 2}"
            recovered_s = kill_and_recover(fleet, victim, args.recovery_timeout)
            time.sleep(3)
            after_kill = connected_by_app(cluster, [victim_app])[victim_app.app]
            sampler.stop()
            shutdown_s = shut_down(cluster)
        finally:
            if sampler is not None:
                sampler.stop()
            fleet.stop()
            cluster.stop()
        print(
            f"\n== {n} executors, {args.apps} apps, {args.gateways} gateway pods, "
            f"{args.workers} workers (load average now {os.getloadavg()}) =="
        )
        print(f"sessions up: {connect_s:.1f} s")
        print(
            "console lists all connected: "
            + (f"{listed_s:.1f} s after" if listed_s is not None else f"NO ({listed})")
        )
        print(f"requests answered by the executors over {args.steady_seconds:.0f} s: {answered}")
        print(
            "kill -> recovery sent to a survivor: "
            + (f"{recovered_s:.1f} s" if recovered_s is not None else "NOT within the timeout")
        )
        print(
            f"console lists connected in {victim_app.app} after the kill: {after_kill} "
            f"(expect {victim_app.count - 1})"
        )
        print(f"shutdown (SIGTERM to every role -> all exited): {shutdown_s:.1f} s")
        print(f"clients' worst event-loop lag: {sampler.worst_lag_ms:.0f} ms")
        print(f"sessions closed, by cause: {dict(fleet.close_causes()) or 'none'}")
        print(
            f"timer overruns, by role: over the steady window {overruns_steady or 'none'}, "
            f"in all {timer_overruns(cluster) or 'none'}"
        )
        print(
            "RSS at the end of the steady window (MB): "
            + ", ".join(f"{k} {v:.0f}" for k, v in rss.items())
        )
        return verdict(
            steady_cpu,
            listed=listed_s is not None,
            recovered=recovered_s is not None,
            counted_after_kill=after_kill == victim_app.count - 1,
            answered=answered,
            shutdown_s=shutdown_s,
        )


TIMER_OVERRUN = "is overlapping (interval="
"""What ``mode.timers`` logs when a timer's run outlasted its interval."""


def timer_overruns(cluster: BatonCluster) -> dict[str, int]:
    """How many times each role's log says one of its timers overran (roles with none left out)."""
    counts = {
        name: role.log_text().count(TIMER_OVERRUN) for name, role in sorted(cluster.roles.items())
    }
    return {name: n for name, n in counts.items() if n}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--executors", type=int, default=50_000)
    parser.add_argument("--apps", type=int, default=5)
    parser.add_argument("--gateways", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--processes-per-gateway", type=int, default=2)
    parser.add_argument("--steady-seconds", type=float, default=45.0)
    parser.add_argument("--list-timeout", type=float, default=300.0)
    parser.add_argument("--recovery-timeout", type=float, default=90.0)
    add_broker_option(parser)
    args = parser.parse_args(argv)
    counts = (args.executors, args.apps, args.gateways, args.workers, args.processes_per_gateway)
    if min(counts) <= 0 or args.executors < args.apps:
        parser.error("every count is positive, and there are at least as many executors as apps")

    def work(broker: Broker) -> int:
        return run(args, broker.bootstrap, broker_pid=broker.pid)

    return on_broker(args.broker, work)


if __name__ == "__main__":
    sys.exit(main())
