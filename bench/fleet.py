"""Fleet benchmark: N simulated DBOS executors in ONE app on ``baton up`` (embedded broker).

The whole of Baton end to end at the size of the issue's target (10,000 executors in one app):
``baton up`` runs its embedded broker, worker, gateway and console as child processes; the
simulated executors (``bench/swarm.py``, spread over ``--processes`` client processes) connect
to its gateway. It prints:

- time until every session is up (the swarm's count), and until the console lists every
  executor as connected (``GET /api/v1/apps/{app}/executors``);
- one executor dropped without a close frame (a SIGKILLed process): seconds until a survivor
  is asked to recover it; the console's count of connected executors afterwards;
- that capture keeps polling: requests the simulated executors answered over the steady window;
- CPU of each process (broker, worker, gateway, console, and the client processes) and the
  client processes' own event-loop lag over the run, so that an overrun of the load generator
  (which shares the machine's cores) is told from Baton's;
- shutdown: SIGTERM to ``baton up`` -> every role and the broker exited.

Run from the repository root::

    .venv/bin/python bench/fleet.py [--executors 10000] [--processes 2]
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
import urllib.request  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import psutil  # noqa: E402

from bench.gateway import Clients, Swarm, kill_and_recover  # noqa: E402
from bench.swarm import Spec  # noqa: E402
from tests.baton_cluster import BatonCluster, free_port  # noqa: E402

APP = "fleet"
MB = 1024 * 1024


def up_processes(up_pid: int) -> dict[str, psutil.Process]:
    """``baton up``'s children by role: ``broker``, ``worker``, ``gateway``, ``console``."""
    found: dict[str, psutil.Process] = {"up": psutil.Process(up_pid)}
    for child in found["up"].children():
        try:
            cmdline = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        if "baton" in cmdline and len(cmdline) > cmdline.index("baton") + 1:
            found[cmdline[cmdline.index("baton") + 1]] = child
        elif any("tansu" in part for part in cmdline[:1]) or "broker" in cmdline:
            found["broker"] = child
    return found


@dataclass
class Sampler:
    """Every ``every_s``: RSS and CPU share of each named process, and the clients' loop lag."""

    processes: dict[str, psutil.Process]
    clients: Swarm
    gateway_url: str
    every_s: float = 5.0
    verbose: bool = True
    samples: list[tuple[float, dict[str, float], dict[str, float]]] = field(default_factory=list)
    """(monotonic time, RSS MB by name, CPU share by name)."""
    worst_lag_ms: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        last: dict[str, float] = {}
        last_t = time.monotonic()
        while not self._stop.wait(self.every_s):
            now = time.monotonic()
            rss, cpu = {}, {}
            for name, process in self.processes.items():
                try:
                    times = process.cpu_times()
                    rss[name] = process.memory_info().rss / MB
                except psutil.NoSuchProcess:
                    continue
                total = times.user + times.system
                if name in last:
                    cpu[name] = (total - last[name]) / (now - last_t)
                last[name] = total
            last_t = now
            lag = self.clients.worst_lag_ms()
            self.worst_lag_ms = max(self.worst_lag_ms, lag)
            self.samples.append((now, rss, cpu))
            if self.verbose and cpu:
                shares = " ".join(f"{n}={c * 100:.0f}%" for n, c in cpu.items())
                print(
                    f"  [{time.strftime('%H:%M:%S')}] load {os.getloadavg()[0]:.1f} cpu {shares}"
                    f" | clients: {self.clients.total()} up, loop lag {lag:.0f} ms"
                    f" | gateway /healthz {probe_ms(self.gateway_url):.0f} ms",
                    flush=True,
                )

    def mean_cpu(self, since: float) -> dict[str, float]:
        shares: dict[str, list[float]] = {}
        for t, _, cpu in self.samples:
            if t >= since:
                for name, share in cpu.items():
                    shares.setdefault(name, []).append(share)
        return {name: sum(v) / len(v) for name, v in shares.items()}


def probe_ms(url: str) -> float:
    """Milliseconds a role takes to answer ``/healthz`` on its own event loop (a measure of that
    loop's lag); -1 when it does not answer within 10 s."""
    start = time.monotonic()
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as response:
            response.read()
    except OSError:
        return -1.0
    return (time.monotonic() - start) * 1000


def client_processes(clients: Clients) -> dict[str, psutil.Process]:
    return {f"swarm{i}": psutil.Process(p.pid) for i, p in enumerate(clients.processes)}


def connected_listed(cluster: BatonCluster) -> int:
    return sum(1 for e in cluster.executors(APP).values() if e["state"] == "connected")


def wait_listed(cluster: BatonCluster, n: int, timeout_s: float) -> tuple[float | None, int]:
    """Seconds until the console lists ``n`` executors connected (None: not within the
    timeout), and the last count seen."""
    start = time.monotonic()
    listed = 0
    while time.monotonic() - start < timeout_s:
        try:
            listed = connected_listed(cluster)
        except (OSError, RuntimeError) as exc:
            print(f"  console: {exc}")
        if listed >= n:
            return time.monotonic() - start, listed
        time.sleep(1)
    return None, listed


@contextmanager
def baton_up(workdir: Path) -> Iterator[BatonCluster]:
    cluster = BatonCluster(f"127.0.0.1:{free_port()}", workdir)
    try:
        yield cluster.start_up(embedded_broker=True)
    finally:
        cluster.roles["up"].stop(timeout_s=120)
        cluster.stop()


def shut_down(cluster: BatonCluster, processes: dict[str, psutil.Process]) -> float:
    """SIGTERM to ``baton up``; seconds until it and every child of it exited (SIGKILL after
    120 s)."""
    up = cluster.roles["up"].process
    assert up is not None
    start = time.monotonic()
    up.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(list(processes.values()), timeout=120)
    elapsed = time.monotonic() - start
    for process in alive:
        print(f"  {process.pid} still running after 120 s: killed")
        process.kill()
    return elapsed


def verdict(
    steady_cpu: dict[str, float],
    *,
    listed: bool,
    recovered: bool,
    counted_after_kill: bool,
    answered: int,
    shutdown_s: float,
) -> int:
    """Print the steady CPU shares and the verdict against the issue's targets; the exit code."""
    print(
        "mean CPU over the steady window (% of a core): "
        + ", ".join(f"{k} {v * 100:.0f}" for k, v in steady_cpu.items())
    )
    ok = listed and recovered and counted_after_kill and answered > 0 and shutdown_s <= 10
    print("verdict:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


def run(args: argparse.Namespace) -> int:
    n = args.executors
    with (
        tempfile.TemporaryDirectory(prefix="baton-fleet-") as tmp,
        baton_up(Path(tmp) / "baton") as cluster,
    ):
        assert cluster.roles["up"].process is not None
        processes = up_processes(cluster.roles["up"].process.pid)
        print(f"baton up: {', '.join(f'{k}={p.pid}' for k, p in processes.items())}")
        clients = Clients()
        spec = Spec(APP, cluster.create_key(APP), 0, n)
        sampler: Sampler | None = None
        try:
            clients.start(cluster.conductor_url, [spec], args.processes)
            sampler = Sampler(
                {**processes, **client_processes(clients)},
                clients,
                f"http://127.0.0.1:{cluster.gateway_port}",
            )
            sampler.start()
            connect_s = clients.wait_connected(n, timeout_s=120 + n / 10)
            print(f"{clients.total()} sessions up after {connect_s:.1f} s", flush=True)
            listed_s, listed = wait_listed(cluster, n, args.list_timeout)
            if listed_s is None:
                print(f"console lists {listed} of {n} connected after {args.list_timeout:.0f} s")
            else:
                print(f"console lists all {n} connected {listed_s:.1f} s after the last connect")
            steady_start = time.monotonic()
            answered0 = clients.answered()
            time.sleep(args.steady_seconds)
            answered = clients.answered() - answered0
            steady_cpu = sampler.mean_cpu(steady_start)
            listed_after_steady = connected_listed(cluster)
            victim = f"sim-{n // 2}"
            recovered_s = kill_and_recover(clients, victim, args.recovery_timeout)
            time.sleep(3)
            listed_after_kill = connected_listed(cluster)
            sampler.stop()
            shutdown_s = shut_down(cluster, processes)
        finally:
            if args.keep_log is not None:
                args.keep_log.write_bytes(cluster.roles["up"].log_path.read_bytes())
            if sampler is not None:
                sampler.stop()
            clients.stop()
        print(f"\n== {n} executors in one app (load average now {os.getloadavg()}) ==")
        print(f"sessions up: {connect_s:.1f} s")
        print(
            "console lists all connected: "
            + (f"{listed_s:.1f} s after" if listed_s is not None else f"NO ({listed})")
        )
        print(f"console lists connected after {args.steady_seconds:.0f} s: {listed_after_steady}")
        print(f"requests answered by the executors over that window: {answered} (capture polls)")
        print(
            "kill -> recovery sent to a survivor: "
            + (f"{recovered_s:.1f} s" if recovered_s is not None else "NOT within the timeout")
        )
        print(f"console lists connected after the kill: {listed_after_kill} (expect {n - 1})")
        print(f"shutdown (SIGTERM to baton up -> all exited): {shutdown_s:.1f} s")
        print(f"clients' worst event-loop lag: {sampler.worst_lag_ms:.0f} ms")
        print(f"sessions closed, by cause: {dict(clients.close_causes()) or 'none'}")
        return verdict(
            steady_cpu,
            listed=listed_s is not None,
            recovered=recovered_s is not None,
            counted_after_kill=listed_after_kill == n - 1,
            answered=answered,
            shutdown_s=shutdown_s,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--executors", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--steady-seconds", type=float, default=60.0)
    parser.add_argument("--list-timeout", type=float, default=180.0)
    parser.add_argument("--recovery-timeout", type=float, default=90.0)
    parser.add_argument("--keep-log", type=Path, help="copy baton up's log there")
    args = parser.parse_args(argv)
    if args.executors <= 0 or args.processes <= 0:
        parser.error("--executors and --processes are positive")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
