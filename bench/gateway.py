"""Gateway benchmark: N simulated DBOS executors on one gateway process.

For each size N (``--sizes``), against a bare ``websockets`` echo server (``bench/echo.py``) and
then against Baton's roles as processes (worker, gateway, console) on the embedded broker
(``--broker kafka``: one Apache Kafka node, ``bench/brokers.py``), it
connects N simulated executors (``bench/swarm.py``: DBOS's handshake, answers and keepalive,
spread over ``--processes`` client processes) and prints:

- resident memory per connection (RSS growth from before the first connection, divided by N) of
  the gateway, and of the echo server as the baseline;
- CPU of the gateway while every executor idles (share of one core over ``--idle-seconds``);
- heartbeat records/s and bytes/s the gateway writes to the executor events topic meanwhile;
- a request round trip through the gateway: the console's ``GET .../schedules`` (console ->
  Kafka -> gateway -> a simulated executor's ``list_schedules`` -> gateway -> Kafka -> console),
  median and p99 against a bare echo round trip of the same request frame, with N connections
  held by each;
- whether Baton as a whole works at that size: every executor listed as connected by the console
  API, and one killed executor's recovery sent to a survivor of its app;
- the gateway's shutdown with every session held: SIGTERM -> exit (its exit code: 70 is the stop
  deadline's, ``runtime.stop_deadline``), and the disconnects it published meanwhile, how many of
  them marked ``draining`` (all of them, when the drain keeps its meaning).

Executors are spread over apps of at most ``--per-app`` executors (one heartbeat record per app
holds every session of the app, and a record must fit in a Kafka message).

Figures are indicative: the client processes, the broker and Baton share this machine's cores.

Run from the repository root::

    .venv/bin/python bench/gateway.py [--sizes 1000,5000,10000] [--processes 4] [--no-echo]
        [--broker tansu|kafka] [--logs-dir DIR] [--py-spy PATH]

``--no-echo`` skips the baseline, ``--logs-dir`` keeps the roles' logs (the gateway's drain logs
how long its close and publish phases took), ``--py-spy`` profiles the gateway while idle and
while stopping (py-spy is a dev tool, not a dependency).
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
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Coroutine  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import IO, Any, Protocol, TypeVar  # noqa: E402

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from baton.children import die_with_parent  # noqa: E402
from bench.brokers import add_broker_option, on_broker  # noqa: E402
from bench.procstat import cpu_s, rss_bytes  # noqa: E402
from bench.profile import hot_functions, start_py_spy  # noqa: E402
from bench.recovery import nearest_rank  # noqa: E402
from bench.shares import share  # noqa: E402
from bench.swarm import Spec  # noqa: E402
from broker.admin import topic_partitions  # noqa: E402
from streams.codec import decode  # noqa: E402
from streams.exceptions import RecordError  # noqa: E402
from streams.records import ExecutorDisconnected  # noqa: E402
from tests.baton_cluster import BatonCluster  # noqa: E402

T = TypeVar("T")
STALLED_SHARE = 0.99
STALLED_S = 30.0
SHUTDOWN_WINDOW_S = 30.0
"""How long the executor events topic is read from the gateway's SIGTERM on: past the role's
stop deadline (12 s) and the harness's SIGKILL (20 s)."""

SCHEDULES_FRAME = json.dumps(
    {"type": "list_schedules", "request_id": "0" * 32, "body": {"load_context": False}}
)
"""The frame the gateway sends for ``GET .../schedules``: the echo baseline sends the same."""


@dataclass
class Clients:
    """The client processes of one run and what they reported."""

    processes: list[subprocess.Popen[str]] = field(default_factory=list)
    connected: dict[int, int] = field(default_factory=dict)
    recoveries: list[dict[str, Any]] = field(default_factory=list)
    owner: dict[str, int] = field(default_factory=dict)
    lag_ms: dict[int, float] = field(default_factory=dict)
    """Each client process's worst event-loop lag over its last report window."""
    requests: dict[int, int] = field(default_factory=dict)
    """Requests each client process has answered, but for the handshakes (capture polls
    among them)."""
    closes: dict[int, dict[str, int]] = field(default_factory=dict)
    """Each client process's closed sessions by cause (``bench.swarm.close_cause``)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, url: str, specs: list[Spec], processes: int) -> None:
        shares: list[list[Spec]] = [[] for _ in range(processes)]
        for spec in specs:  # each app's executors dealt over every process
            for p in range(processes):
                first, count = share(spec.first, spec.count, p, processes)
                if count > 0:
                    shares[p].append(Spec(spec.app, spec.key, first, count))
                    for i in range(first, first + count):
                        self.owner[f"sim-{i}"] = p
        for index, process_specs in enumerate(s for s in shares if s):
            args = [sys.executable, "-m", "bench.swarm", "--url", url, "--concurrency", "3"]
            for spec in process_specs:
                args += ["--spec", spec.render()]
            process = subprocess.Popen(
                args,
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                preexec_fn=die_with_parent,
            )
            self.processes.append(process)
            assert process.stdout is not None
            threading.Thread(target=self._read, args=(index, process.stdout), daemon=True).start()

    def _read(self, index: int, stdout: IO[str]) -> None:
        for line in stdout:
            report = json.loads(line)
            with self.lock:
                if "connected" in report:
                    self.connected[index] = report["connected"]
                if "recovery" in report:
                    self.recoveries.append(report)
                if "lag_ms" in report:
                    self.lag_ms[index] = report["lag_ms"]
                if "requests" in report:
                    self.requests[index] = report["requests"]
                if "closes" in report:
                    self.closes[index] = report["closes"]

    def worst_lag_ms(self) -> float:
        """The worst loop lag the client processes last reported."""
        with self.lock:
            return max(self.lag_ms.values(), default=0.0)

    def close_causes(self) -> Counter[str]:
        """Sessions closed so far over every client process, by cause."""
        with self.lock:
            total: Counter[str] = Counter()
            for closes in self.closes.values():
                total.update(closes)
            return total

    def answered(self) -> int:
        with self.lock:
            return sum(self.requests.values())

    def total(self) -> int:
        with self.lock:
            return sum(self.connected.values())

    def wait_connected(self, n: int, timeout_s: float) -> float:
        """See ``wait_until_connected``."""
        return wait_until_connected(self, n, timeout_s)

    def send(self, process: int, line: str) -> None:
        stdin = self.processes[process].stdin
        assert stdin is not None
        stdin.write(line + "\n")
        stdin.flush()

    def kill(self, executor_id: str) -> None:
        self.send(self.owner[executor_id], f"kill {executor_id}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(BrokenPipeError, OSError):
                    self.send(self.processes.index(process), "stop")
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass(frozen=True, slots=True)
class Figures:
    """What one server cost with N executors."""

    rss_per_conn_bytes: float
    rss_total_bytes: int
    connect_s: float
    idle_cpu_share: float
    round_trips_s: list[float]


@dataclass(frozen=True, slots=True)
class Whole:
    """Baton as a whole at one size."""

    listed: int
    held: int
    recovered_s: float | None
    heartbeats_per_s: float
    heartbeat_bytes_per_s: float
    other_records: dict[str, int]
    shutdown: Shutdown


@dataclass(frozen=True, slots=True)
class Shutdown:
    """The gateway's stop with every session held (SIGTERM -> exit)."""

    seconds: float
    exit_code: int | None
    draining: int
    """Disconnects published marked ``draining``."""
    not_draining: int


def apps_of(n: int, per_app: int) -> list[int]:
    """Executors per app: ``n`` spread evenly over as few apps of at most ``per_app`` as fit."""
    apps = max(1, math.ceil(n / per_app))
    return [n // apps + (1 if i < n % apps else 0) for i in range(apps)]


def specs_for(sizes: list[int], keys: list[str]) -> list[Spec]:
    specs, first = [], 0
    for index, (count, key) in enumerate(zip(sizes, keys, strict=True)):
        specs.append(Spec(f"gwbench{index}", key, first, count))
        first += count
    return specs


def on_own_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end on a loop of its own: this thread's loop runs the broker and
    is blocked in this synchronous script."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


def idle_cpu(pid: int, seconds: float) -> float:
    before = cpu_s(pid)
    time.sleep(seconds)
    return (cpu_s(pid) - before) / seconds


def echo_round_trips(port: int, count: int) -> list[float]:
    async def run() -> list[float]:
        samples = []
        async with connect(f"ws://127.0.0.1:{port}/websocket/echo/x", compression=None) as ws:
            for _ in range(count):
                start = time.perf_counter()
                await ws.send(SCHEDULES_FRAME)
                await ws.recv()
                samples.append(time.perf_counter() - start)
        return samples

    return on_own_loop(run())


def measure_echo(n: int, processes: int, idle_s: float, round_trips: int) -> Figures:
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.echo"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=die_with_parent,
    )
    clients = Clients()
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        rss0 = rss_bytes(server.pid)
        # The echo server asks nothing: a session counts as connected once upgraded.
        specs = specs_for([n], ["x"])
        clients.start(f"ws://127.0.0.1:{port}", specs, processes)
        connect_s = wait_sockets(server.pid, n)
        rss1 = rss_bytes(server.pid)
        cpu = idle_cpu(server.pid, idle_s)
        trips = echo_round_trips(port, round_trips)
        return Figures((rss1 - rss0) / n, rss1, connect_s, cpu, trips)
    finally:
        clients.stop()
        if server.stdin is not None:
            server.stdin.close()
        server.wait(30)


def wait_sockets(pid: int, n: int) -> float:
    """Seconds until the echo server holds ``n`` client sockets (its clients never get
    ``executor_info``, so the swarm cannot count them), plus 2 s to settle."""
    start = time.monotonic()
    while _open_sockets(pid) < n:
        if time.monotonic() - start > 30 + n / 20:
            raise RuntimeError(f"echo server holds {_open_sockets(pid)} of {n} sockets")
        time.sleep(0.2)
    time.sleep(2)
    return time.monotonic() - start


def _open_sockets(pid: int) -> int:
    fds = Path(f"/proc/{pid}/fd")
    count = 0
    for fd in fds.iterdir():
        try:
            if fd.readlink().name.startswith("socket:"):
                count += 1
        except OSError:
            continue
    return count - 1  # the listening socket


def topic_traffic(bootstrap: str, topic: str, seconds: float) -> tuple[Counter[str], Counter[str]]:
    """Records and bytes by record type written to ``topic`` during the next ``seconds``."""
    counts: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for message in records_written(bootstrap, seconds, topic):
        raw = message.value or b""
        counts[record_kind(raw)] += 1
        sizes[record_kind(raw)] += len(raw)
    return counts, sizes


def record_kind(raw: bytes) -> str:
    """A record's type as Baton's codec reads it (``undecodable`` otherwise)."""
    try:
        return decode(raw).type.value
    except RecordError:
        return "undecodable"


def records_written(
    bootstrap: str, seconds: float, topic: str | None = None
) -> list[ConsumerRecord[bytes, bytes]]:
    """The records written to ``topic`` (every topic of the broker if ``None``) during the next
    ``seconds``, read from the partitions' ends."""

    async def run() -> list[ConsumerRecord[bytes, bytes]]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
        )
        await consumer.start()
        written: list[ConsumerRecord[bytes, bytes]] = []
        try:
            if topic is None:
                partitions = [
                    TopicPartition(name, p)
                    for name in await consumer.topics()
                    for p in consumer.partitions_for_topic(name) or ()
                ]
            else:
                partitions = await topic_partitions(bootstrap, topic)
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            for tp in partitions:
                await consumer.position(tp)
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0:
                batches = await consumer.getmany(timeout_ms=int(min(left, 0.5) * 1000))
                for messages in batches.values():
                    written.extend(messages)
        finally:
            await consumer.stop()
        return written

    return on_own_loop(run())


def measure_baton(
    bootstrap: str,
    n: int,
    per_app: int,
    processes: int,
    idle_s: float,
    round_trips: int,
    logs_dir: Path | None = None,
    py_spy: Path | None = None,
) -> tuple[Figures, Whole]:
    with (
        tempfile.TemporaryDirectory(prefix="baton-gwbench-") as tmp,
        BatonCluster(bootstrap, Path(tmp) / "baton") as cluster,
    ):
        gateway = cluster.roles["gateway"].process
        assert gateway is not None
        sizes = apps_of(n, per_app)
        specs = specs_for(sizes, [cluster.create_key(f"gwbench{i}") for i in range(len(sizes))])
        time.sleep(2)
        rss0 = rss_bytes(gateway.pid)
        clients = Clients()
        try:
            clients.start(cluster.conductor_url, specs, processes)
            connect_s = clients.wait_connected(n, timeout_s=60 + n / 10)
            time.sleep(5)
            rss1 = rss_bytes(gateway.pid)
            held = clients.total()
            # CPU and Kafka traffic over the same idle window.
            with ThreadPoolExecutor(max_workers=1) as thread:
                traffic = thread.submit(
                    topic_traffic, bootstrap, f"{cluster.topic_prefix}executor-events", idle_s
                )
                profiler = None
                if py_spy is not None:
                    out = py_spy.with_suffix(f".idle-{n}.raw")
                    profiler = start_py_spy(gateway.pid, out, math.ceil(idle_s))
                cpu = idle_cpu(gateway.pid, idle_s)
                counts, sizes_b = traffic.result()
                if profiler is not None:
                    profiler.wait(60)
            trips = console_round_trips(cluster, specs[0].app, round_trips)
            listed = sum(
                sum(1 for e in cluster.executors(spec.app).values() if e["state"] == "connected")
                for spec in specs
            )
            recovered_s = kill_and_recover(clients, f"sim-{specs[0].first}")
            profiler = None
            if py_spy is not None:
                profiler = start_py_spy(gateway.pid, py_spy.with_suffix(f".shutdown-{n}.raw"))
            shutdown = measure_shutdown(cluster, f"{cluster.topic_prefix}executor-events")
            if profiler is not None:
                profiler.wait(60)
            if logs_dir is not None:
                logs_dir.mkdir(parents=True, exist_ok=True)
                for name, role in cluster.roles.items():
                    shutil.copy(role.log_path, logs_dir / f"{name}-{n}.log")
            whole = Whole(
                listed=listed,
                held=held,
                recovered_s=recovered_s,
                heartbeats_per_s=counts["gateway_heartbeat"] / idle_s,
                heartbeat_bytes_per_s=sizes_b["gateway_heartbeat"] / idle_s,
                other_records={k: v for k, v in counts.items() if k != "gateway_heartbeat"},
                shutdown=shutdown,
            )
            figures = Figures((rss1 - rss0) / held, rss1, connect_s, cpu, trips)
            return figures, whole
        finally:
            clients.stop()


PROFILED = ("gateway/", "runtime/", "streams/", "websockets/", "aiokafka/", "asyncio/", "logging/")


def print_profile(path: Path) -> None:
    """The gateway's hottest functions in a py-spy profile, callees included."""
    with path.open() as lines:
        hot = hot_functions(lines, PROFILED)
    print(f"gateway profile ({path}): functions by share of samples, callees included")
    for name, portion in hot[:25]:
        print(f"{portion * 100:6.1f}%  {name}")


def measure_shutdown(cluster: BatonCluster, topic: str) -> Shutdown:
    """SIGTERM the gateway (its sessions held): seconds until it exited, and the disconnects it
    published meanwhile."""
    gateway = cluster.roles["gateway"]
    with ThreadPoolExecutor(max_workers=1) as thread:
        written = thread.submit(records_written, cluster.kafka_bootstrap, SHUTDOWN_WINDOW_S, topic)
        time.sleep(3)  # the reader is at the partitions' ends
        start = time.monotonic()
        exit_code = gateway.stop(timeout_s=SHUTDOWN_WINDOW_S - 10)
        seconds = time.monotonic() - start
        records = written.result()
    draining = not_draining = 0
    for message in records:
        try:
            record = decode(message.value or b"")
        except RecordError:
            continue
        if isinstance(record, ExecutorDisconnected):
            if record.draining:
                draining += 1
            else:
                not_draining += 1
    return Shutdown(seconds, exit_code, draining, not_draining)


def console_round_trips(cluster: BatonCluster, app: str, count: int) -> list[float]:
    """Round trips of ``GET .../schedules``; one that fails (a 504 on a starved machine) is
    reported and left out."""
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        status, body = cluster.get(f"/api/v1/apps/{app}/schedules")
        if status != 200:
            print(f"  GET schedules answered {status}: {body}", flush=True)
            continue
        samples.append(time.perf_counter() - start)
    return samples or [math.nan]


class Swarm(Protocol):
    """What the figures read of the simulated executors: ``Clients``, or several seen as one."""

    lock: threading.Lock

    @property
    def recoveries(self) -> list[dict[str, Any]]:
        """The recovery requests the executors received, as they reported them."""
        ...

    def kill(self, executor_id: str) -> None:
        """Drop one executor's session without a close frame."""
        ...

    def total(self) -> int:
        """Sessions up now."""
        ...

    def worst_lag_ms(self) -> float:
        """The worst event-loop lag the client processes last reported."""
        ...


def wait_until_connected(swarm: Swarm, n: int, timeout_s: float) -> float:
    """Seconds until ``n`` sessions are up; or, on a starved machine where a few sessions
    flap (ping timeouts, reconnects), until at least ``STALLED_SHARE`` of them have been up
    with no change for ``STALLED_S`` (raises on timeout)."""
    start = time.monotonic()
    last_print = changed = start
    seen = -1
    while (total := swarm.total()) < n:
        now = time.monotonic()
        if total != seen:
            seen, changed = total, now
        if total >= STALLED_SHARE * n and now - changed > STALLED_S:
            print(f"  going on with {total} of {n} connected (no change for {STALLED_S} s)")
            break
        if now - start > timeout_s:
            raise RuntimeError(f"only {total} of {n} executors connected")
        if now - last_print > 15:
            print(f"  ... {total} of {n} connected", flush=True)
            last_print = now
        time.sleep(0.2)
    return time.monotonic() - start


def kill_and_recover(clients: Swarm, executor_id: str, timeout_s: float = 90) -> float | None:
    """Drop one executor without a close frame; seconds until a survivor is asked to recover it
    (``None``: not within ``timeout_s``)."""
    clients.kill(executor_id)
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        with clients.lock:
            if any(executor_id in r["dead"] for r in clients.recoveries):
                return time.monotonic() - start
        time.sleep(0.1)
    return None


def quantiles(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), nearest_rank(samples, 0.99)


def report(n: int, echo: Figures | None, baton: Figures, whole: Whole, apps: int) -> None:
    mb = 1024 * 1024
    b_med, b_p99 = quantiles(baton.round_trips_s)
    if echo is None:  # --no-echo: no baseline
        echo = Figures(0.0, 0, 0.0, 0.0, [0.0])
    e_med, e_p99 = quantiles(echo.round_trips_s)
    print(f"\n== {n} executors ({apps} app(s)) ==")
    print(f"{'':<28}{'echo':>14}{'gateway':>14}{'ratio':>9}")
    rows = [
        (
            "RSS per connection (KB)",
            echo.rss_per_conn_bytes / 1024,
            baton.rss_per_conn_bytes / 1024,
        ),
        ("RSS total (MB)", echo.rss_total_bytes / mb, baton.rss_total_bytes / mb),
        ("connect all (s)", echo.connect_s, baton.connect_s),
        ("idle CPU (% of a core)", echo.idle_cpu_share * 100, baton.idle_cpu_share * 100),
        ("round trip median (ms)", e_med * 1000, b_med * 1000),
        ("round trip p99 (ms)", e_p99 * 1000, b_p99 * 1000),
    ]
    for name, base, value in rows:
        ratio = f"{value / base:>8.1f}x" if base > 0 else f"{'-':>9}"
        print(f"{name:<28}{base:>14.2f}{value:>14.2f}{ratio}")
    print(
        f"heartbeats into Kafka: {whole.heartbeats_per_s:.2f} records/s, "
        f"{whole.heartbeat_bytes_per_s / 1024:.1f} KB/s "
        f"(other executor events in the window: {dict(whole.other_records) or 'none'})"
    )
    print(f"console lists {whole.listed} of {n} executors as connected")
    if whole.held < n:
        print(f"(the gateway held {whole.held} of {n} sessions when its RSS was read)")
    if whole.recovered_s is None:
        print("killed executor: NOT recovered within 90 s")
    else:
        print(f"killed executor: recovery sent to a survivor after {whole.recovered_s:.1f} s")
    shutdown = whole.shutdown
    print(
        f"gateway shutdown (SIGTERM -> exit, sessions held): {shutdown.seconds:.1f} s, exit code "
        f"{shutdown.exit_code}; disconnects published: {shutdown.draining} draining, "
        f"{shutdown.not_draining} not (of {whole.held - 1} held)"
    )
    print(
        "target 10,000 connections <= 250 MB gateway RSS: "
        f"{baton.rss_per_conn_bytes * 10_000 / mb + (baton.rss_total_bytes - baton.rss_per_conn_bytes * n) / mb:.0f} MB "  # noqa: E501
        "projected from this size",
        flush=True,
    )


def run(args: argparse.Namespace) -> None:
    if args.py_spy is not None:
        args.py_spy.parent.mkdir(parents=True, exist_ok=True)

    def measure(bootstrap: str) -> None:
        for n in args.sizes:
            echo = None
            if args.echo:
                print(f"echo server, {n} connections ...", flush=True)
                echo = measure_echo(n, args.processes, args.idle_seconds, args.round_trips)
            print(f"Baton, {n} executors, broker {args.broker} ...", flush=True)
            baton, whole = measure_baton(
                bootstrap,
                n,
                args.per_app,
                args.processes,
                args.idle_seconds,
                args.round_trips,
                args.logs_dir,
                args.py_spy,
            )
            report(n, echo, baton, whole, len(apps_of(n, args.per_app)))
            if args.py_spy is not None:
                for phase in ("idle", "shutdown"):
                    print_profile(args.py_spy.with_suffix(f".{phase}-{n}.raw"))

    on_broker(args.broker, lambda broker: measure(broker.bootstrap))


def positive_ints(text: str) -> list[int]:
    values = [int(v) for v in text.split(",") if v.strip()]
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError("sizes are positive integers, comma-separated")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=positive_ints, default=[1000, 5000, 10000])
    parser.add_argument("--per-app", type=int, default=2000, help="executors per app at most")
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--round-trips", type=int, default=50)
    parser.add_argument("--logs-dir", type=Path, help="copy the roles' logs here")
    parser.add_argument(
        "--py-spy",
        type=Path,
        help="profile the gateway while idle and while stopping (PATH.idle-N.raw, "
        "PATH.shutdown-N.raw; py-spy is a dev tool: pip install py-spy)",
    )
    parser.add_argument(
        "--no-echo", dest="echo", action="store_false", help="skip the echo server's baseline"
    )
    add_broker_option(parser)
    args = parser.parse_args(argv)
    try:
        run(args)
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
