"""Pipeline benchmark: liveness and workflow events per second through one Faust worker.

For each kind of event in turn, on fresh topics of the broker (``--broker tansu``, the default:
the embedded broker; ``--broker kafka``: a one-node Apache Kafka of ``deploy/local/kafka``; only
the set-up differs), it produces ``--records`` records: executor events (per app: each
executor's ``ExecutorConnected``, then heartbeats listing every session of the app, a beat every
2 s of event time up to now), then workflow events (``WorkflowStatus``: each workflow
``PENDING`` then ``SUCCESS``). It reads them to their end with a bare aiokafka consumer (the
baseline), then with a bare Faust agent declared as the worker's Faust app is and doing nothing
with the records (``bench.faust_floor``: the floor of any Faust worker), then starts one ``baton
worker`` (recovery agent, capture poller, workflow table and their SQLite store projections) on
them: its throughput is the records it counted in
(``baton_events_consumed_total``, scraped from its ``/metrics``) per second and per CPU-second of
its process, from its first record to its last. Records counted in are handed to the agents'
streams, so they run ahead of what was processed by at most Faust's stream buffer; with tens of
thousands of records the difference is small.

Figures are indicative: the broker, the worker and this script share this machine's cores.

Run from the repository root::

    .venv/bin/python bench/pipeline.py [--broker tansu|kafka] [--records 50000] [--apps 50] \
        [--executors 20] [--py-spy /tmp/worker.raw]

``--py-spy`` (py-spy installed: a dev tool) profiles each worker from its first record into
``PATH.liveness.raw`` and ``PATH.workflows.raw`` and prints the Baton functions it spent its
samples in.
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
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from aiokafka import AIOKafkaProducer  # noqa: E402

from bench.brokers import add_broker_option, on_broker  # noqa: E402
from bench.gateway import on_own_loop  # noqa: E402
from bench.procstat import cpu_s  # noqa: E402
from bench.profile import hot_functions, start_py_spy  # noqa: E402
from broker.admin import ensure_topics  # noqa: E402
from broker.log_reader import from_beginning  # noqa: E402
from runtime.clock import wall_ms  # noqa: E402
from streams.codec import encode, record_key  # noqa: E402
from streams.heartbeats import heartbeats  # noqa: E402
from streams.ids import AppName, ConnId, ExecutorId, GatewayId, WorkflowId  # noqa: E402
from streams.records import (  # noqa: E402
    ExecutorConnected,
    ExecutorInfo,
    Record,
    SessionInfo,
    WorkflowStatus,
)
from streams.topics import Topics  # noqa: E402
from tests.baton_cluster import RoleProcess, free_port  # noqa: E402

TARGET_PER_S = 20_000
BATON_PACKAGES = (
    "baton/",
    "broker/",
    "capture/",
    "recovery/",
    "runtime/",
    "store/",
    "streams/",
)
GATEWAY = GatewayId("gw-bench")
KINDS = ("liveness", "workflows")
BEAT_MS = 2_000
"""Event time between two heartbeats of a gateway (the gateway's default interval)."""
SCRAPE_S = 0.5
"""How often the worker's ``/metrics`` is read (each read costs it a little CPU)."""


def liveness_records(count: int, apps: int, executors: int, now_ms: int) -> Iterator[Record]:
    """``count`` executor events: each app's connects, then beats of every app, each beat a
    gateway's heartbeat records of its sessions of the app (``streams.heartbeats``), a beat
    every ``BEAT_MS`` of event time up to ``now_ms``: every beat moves each executor's
    last-seen, as in production."""
    sessions = {
        AppName(f"pipe{a}"): tuple(
            SessionInfo(
                info=ExecutorInfo(executor_id=ExecutorId(f"e{a}-{e}"), application_version="v1"),
                conn_id=ConnId(f"c{a}-{e}"),
                connected_at_ms=now_ms,
            )
            for e in range(executors)
        )
        for a in range(apps)
    }
    beats = max(0, count - apps * executors) // max(1, apps) + 1
    first_ms = now_ms - beats * BEAT_MS
    made = 0
    for app, held in sessions.items():
        for session in held:
            if made == count:
                return
            yield ExecutorConnected(app=app, gateway=GATEWAY, session=session, ts_ms=first_ms)
            made += 1
    beat = 0
    while made < count:
        beat += 1
        for app, held in sessions.items():
            for record in heartbeats(app, GATEWAY, held, first_ms + beat * BEAT_MS, listing=True):
                if made == count:
                    return
                yield record
                made += 1


def workflow_records(count: int, apps: int, now_ms: int) -> Iterator[Record]:
    """``count`` workflow events: workflows going ``PENDING`` then ``SUCCESS``."""
    for i in range(count):
        workflow, done = divmod(i, 2)
        yield WorkflowStatus(
            app=AppName(f"pipe{workflow % apps}"),
            workflow_id=WorkflowId(f"wf-{workflow}"),
            status="SUCCESS" if done else "PENDING",
            observed_at_ms=now_ms,
            name="bench_workflow",
            created_at_ms=now_ms,
            updated_at_ms=now_ms + done,
        )


async def produce(bootstrap: str, topic: str, records: Iterator[Record]) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks=1)
    await producer.start()
    sent = 0
    try:
        for record in records:
            await producer.send(topic, encode(record), key=record_key(record))
            sent += 1
        await producer.flush()
    finally:
        await producer.stop()
    return sent


@dataclass(frozen=True, slots=True)
class Run:
    """Records read, the wall seconds and the CPU seconds they took (timed from the first batch
    or scrape that saw any: the records seen then are not counted)."""

    records: int
    seconds: float
    cpu_s: float

    @property
    def per_s(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else float("inf")

    @property
    def per_cpu_s(self) -> float:
        return self.records / self.cpu_s if self.cpu_s > 0 else float("inf")


async def bare_consume(bootstrap: str, topic: str, total: int) -> Run:
    """A bare aiokafka consumer reading ``total`` records of ``topic`` (every partition
    assigned, no group to join); its CPU is this process's (the broker is another)."""
    async with from_beginning(bootstrap, topic) as (consumer, _):
        seen = 0
        start: tuple[float, float, int] | None = None
        while seen < total:
            batches = await consumer.getmany(timeout_ms=500, max_records=1_000)
            seen += sum(len(messages) for messages in batches.values())
            if seen and start is None:
                start = (time.perf_counter(), time.process_time(), seen)
        assert start is not None
        return Run(total - start[2], time.perf_counter() - start[0], time.process_time() - start[1])


def consumed(port: int, topic: str) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    pattern = rf'^baton_events_consumed_total\{{topic="{re.escape(topic)}"\}} ([0-9.e+]+)$'
    match = re.search(pattern, text, re.MULTILINE)
    return int(float(match.group(1))) if match else 0


def worker_run(
    bootstrap: str,
    prefix: str,
    topic: str,
    total: int,
    workdir: Path,
    py_spy: Path | None = None,
) -> Run:
    """Start ``baton worker`` and time how it counts the ``total`` records of ``topic`` in;
    with ``py_spy``, profile it from its first record to its exit into that file (raw)."""
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "baton",
        "worker",
        "--kafka",
        bootstrap,
        "--database-url",
        f"sqlite+aiosqlite:///{workdir / 'baton.db'}",
        "--data-dir",
        str(workdir),
        "--port",
        str(port),
    ]
    env = {**os.environ, "BATON_TOPIC_PREFIX": prefix, "BATON_LOG_LEVEL": "WARNING"}
    role = RoleProcess("worker", args, env, workdir / "worker.log")
    role.start()
    assert role.process is not None
    pid = role.process.pid
    first: tuple[float, float, int] | None = None
    profiler: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.monotonic() + 120 + total / 50
        while True:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not read every record:\n{role.tail()}")
            if role.process.poll() is not None:
                raise RuntimeError(f"the worker exited:\n{role.tail()}")
            time.sleep(SCRAPE_S)
            try:
                n = consumed(port, topic)
            except OSError:
                continue  # not listening yet
            now, cpu = time.monotonic(), cpu_s(pid)
            if n > 0 and first is None:
                first = (now, cpu, n)
                if py_spy is not None:
                    profiler = start_py_spy(pid, py_spy)
            if first is not None and n >= total:
                return Run(total - first[2], now - first[0], cpu - first[1])
    finally:
        role.stop()
        if profiler is not None:
            profiler.wait(60)


def print_profile(path: Path) -> None:
    with path.open() as lines:
        hot = hot_functions(lines, BATON_PACKAGES)
    print(f"worker profile ({path}): Baton functions by share of samples, callees included")
    for name, share in hot[:25]:
        print(f"{share * 100:6.1f}%  {name}")


def faust_floor(bootstrap: str, prefix: str, kind: str, total: int) -> Run:
    """A bare Faust agent (``bench.faust_floor``), in a process of its own, reading ``total``
    records of ``kind``'s topic."""
    args = [sys.executable, "-m", "bench.faust_floor", "--kafka", bootstrap, "--prefix", prefix]
    args += ["--kind", kind, "--records", str(total)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"the bare Faust agent failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return Run(int(result["records"]), float(result["seconds"]), float(result["cpu_s"]))


@dataclass(frozen=True, slots=True)
class Measured:
    """One kind's records and the three readers' runs over them."""

    count: int
    bare: Run
    faust: Run
    worker: Run


def measure_kind(
    bootstrap: str, kind: str, records: Iterator[Record], py_spy: Path | None
) -> Measured:
    """Fresh topics holding only ``records`` (on the topic of ``kind``); the bare consumer, a
    bare Faust agent and then one worker read them."""
    prefix = f"pipe{uuid.uuid4().hex[:6]}."
    topics = Topics(prefix=prefix)
    topic = topics.executor_events if kind == "liveness" else topics.workflow_events

    async def prepare() -> int:
        await ensure_topics(bootstrap, topics.specs())
        return await produce(bootstrap, topic, records)

    count = on_own_loop(prepare())
    bare = on_own_loop(bare_consume(bootstrap, topic, count))
    print(f"{kind}: {count} records; a bare Faust agent on them ...", flush=True)
    faust = faust_floor(bootstrap, prefix, kind, count)
    print(f"{kind}: one baton worker on them ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="baton-pipeline-") as tmp:
        worker = worker_run(bootstrap, prefix, topic, count, Path(tmp), py_spy)
    return Measured(count, bare, faust, worker)


def measure(bootstrap: str, args: argparse.Namespace) -> None:
    now_ms = wall_ms()
    kinds = {
        "liveness": liveness_records(args.records, args.apps, args.executors, now_ms),
        "workflows": workflow_records(args.records, args.apps, now_ms),
    }
    names = {
        "liveness": f"liveness ({args.apps} apps x {args.executors} executors)",
        "workflows": "workflow statuses",
    }
    results: dict[str, Measured] = {}
    for kind, records in kinds.items():
        if kind not in args.kinds:
            continue
        profile = None if args.py_spy is None else args.py_spy.with_suffix(f".{kind}.raw")
        results[kind] = measure_kind(bootstrap, kind, records, profile)
    print()
    print("events/s, and in brackets per CPU-second of the reader's process; ratios: the worker's")
    print(
        f"{'events':<36}{'bare aiokafka':>20}{'bare Faust agent':>20}{'baton worker':>20}"
        f"{'/ bare':>14}{'/ Faust':>14}"
    )
    for kind, m in results.items():
        cells = "".join(
            f"{f'{r.per_s:,.0f} ({r.per_cpu_s:,.0f})':>20}" for r in (m.bare, m.faust, m.worker)
        )
        ratios = "".join(
            f"{f'{m.worker.per_s / r.per_s:.2f}x ({m.worker.per_cpu_s / r.per_cpu_s:.2f}x)':>14}"
            for r in (m.bare, m.faust)
        )
        print(f"{names[kind]:<36}{cells}{ratios}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"broker: {args.broker}; load average (1, 5, 15 min) at the end: {load}")
    slowest = min(m.worker.per_s for m in results.values())
    verdict = "PASS" if slowest >= TARGET_PER_S else "FAIL"
    print(f"target >= {TARGET_PER_S} events/s per worker: {slowest:.0f} -> {verdict}")
    per_cpu = min(m.worker.per_cpu_s for m in results.values())
    print(f"(per CPU-second of the worker, less sensitive to this machine's load: {per_cpu:.0f})")
    if args.py_spy is not None:
        for kind in results:
            print()
            print_profile(args.py_spy.with_suffix(f".{kind}.raw"))


def kinds_of(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    if not kinds or any(k not in KINDS for k in kinds):
        raise argparse.ArgumentTypeError(f"kinds are among {', '.join(KINDS)}")
    return kinds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=50_000, help="records of each kind")
    parser.add_argument("--apps", type=int, default=50)
    parser.add_argument("--executors", type=int, default=20, help="executors per app")
    parser.add_argument(
        "--kinds", type=kinds_of, default=KINDS, help="liveness,workflows (both by default)"
    )
    parser.add_argument(
        "--py-spy", type=Path, default=None, help="profile the worker into this raw file"
    )
    add_broker_option(parser)
    args = parser.parse_args(argv)
    try:
        on_broker(args.broker, lambda broker: measure(broker.bootstrap, args))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
