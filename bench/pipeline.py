"""Pipeline benchmark: liveness and workflow events per second through one Faust worker.

On the embedded broker it produces ``--records`` executor events (per app: each executor's
``ExecutorConnected``, then heartbeats holding every session of the app) and as many workflow
events (``WorkflowStatus``: each workflow ``PENDING`` then ``SUCCESS``), all stamped now. Then it
reads both topics to their end with a bare aiokafka consumer (the baseline), and starts one
``baton worker`` (recovery agent, capture poller, workflow table and their store projections,
SQLite) on them: its throughput is the records it counted in (``baton_events_consumed_total``,
scraped from its ``/metrics``) per second, from its first record to its last. Records counted in
are handed to the agents' streams, so they run ahead of what was processed by at most Faust's
stream buffer; with tens of thousands of records the difference is small.

Figures are indicative: the broker, the worker and this script share this machine's cores.

Run from the repository root::

    .venv/bin/python bench/pipeline.py [--records 50000] [--apps 50] [--executors 20] \
        [--py-spy /tmp/worker.raw]

``--py-spy`` (py-spy installed: a dev tool) profiles the worker from its first record and prints
the Baton functions it spent its samples in.
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
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # noqa: E402

from bench.embedded import on_embedded_broker  # noqa: E402
from bench.gateway import on_own_loop  # noqa: E402
from bench.profile import hot_functions  # noqa: E402
from broker.admin import ensure_topics, topic_partitions  # noqa: E402
from runtime.clock import wall_ms  # noqa: E402
from streams.codec import encode, record_key  # noqa: E402
from streams.ids import AppName, ConnId, ExecutorId, GatewayId, WorkflowId  # noqa: E402
from streams.records import (  # noqa: E402
    ExecutorConnected,
    ExecutorInfo,
    GatewayHeartbeat,
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


def liveness_records(count: int, apps: int, executors: int, now_ms: int) -> Iterator[Record]:
    """``count`` executor events: each app's connects, then heartbeats of all its sessions."""
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
    made = 0
    for app, held in sessions.items():
        for session in held:
            if made == count:
                return
            yield ExecutorConnected(app=app, gateway=GATEWAY, session=session, ts_ms=now_ms)
            made += 1
    while made < count:
        for app, held in sessions.items():
            if made == count:
                return
            yield GatewayHeartbeat(app=app, gateway=GATEWAY, sessions=held, ts_ms=now_ms)
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


async def bare_consume(bootstrap: str, topics: list[str], total: int) -> Run:
    """Seconds a bare aiokafka consumer takes to read ``total`` records of ``topics`` (from its
    first record: assigned every partition, no group to join)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [tp for topic in topics for tp in await topic_partitions(bootstrap, topic)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen = 0
        start: tuple[float, int] | None = None
        while seen < total:
            batches = await consumer.getmany(timeout_ms=500, max_records=1_000)
            seen += sum(len(messages) for messages in batches.values())
            if seen and start is None:
                start = (time.perf_counter(), seen)  # timed from the first batch, as the worker
        assert start is not None
        return Run(total - start[1], time.perf_counter() - start[0])
    finally:
        await consumer.stop()


@dataclass(frozen=True, slots=True)
class Run:
    """Records read and the seconds they took (timed from the first batch or scrape that saw
    any: the records seen then are not counted)."""

    records: int
    seconds: float

    @property
    def per_s(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else float("inf")


def consumed(port: int, topic: str) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    pattern = rf'^baton_events_consumed_total\{{topic="{re.escape(topic)}"\}} ([0-9.e+]+)$'
    match = re.search(pattern, text, re.MULTILINE)
    return int(float(match.group(1))) if match else 0


def worker_run(
    bootstrap: str,
    prefix: str,
    topics: dict[str, int],
    workdir: Path,
    timeout_s: float,
    py_spy: Path | None = None,
) -> dict[str, Run]:
    """Start ``baton worker`` on the topics and time how it counts their records in; with
    ``py_spy``, profile it from its first record to its exit into that file (raw format)."""
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
    first: dict[str, tuple[float, int]] = {}
    last: dict[str, float] = {}
    profiler: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.monotonic() + timeout_s
        while len(last) < len(topics):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not read every record:\n{role.tail()}")
            assert role.process is not None
            if role.process.poll() is not None:
                raise RuntimeError(f"the worker exited:\n{role.tail()}")
            time.sleep(0.1)
            for topic, total in topics.items():
                try:
                    n = consumed(port, topic)
                except OSError:
                    break  # not listening yet
                now = time.monotonic()
                if n > 0:
                    first.setdefault(topic, (now, n))
                    if py_spy is not None and profiler is None:
                        assert role.process is not None
                        profiler = start_py_spy(role.process.pid, py_spy)
                if n >= total:
                    last.setdefault(topic, now)
    finally:
        role.stop()
        if profiler is not None:
            profiler.wait(60)
    return {t: Run(topics[t] - first[t][1], last[t] - first[t][0]) for t in topics}


def start_py_spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        raise RuntimeError("--py-spy needs py-spy: pip install py-spy (a dev tool, not a dep)")
    args = [exe, "record", "-p", str(pid), "-r", "100", "-f", "raw", "-o", str(out)]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def print_profile(path: Path) -> None:
    with path.open() as lines:
        hot = hot_functions(lines, BATON_PACKAGES)
    print(f"\nworker profile ({path}): Baton functions by share of samples, callees included")
    for name, share in hot[:25]:
        print(f"{share * 100:6.1f}%  {name}")


def measure(bootstrap: str, records: int, apps: int, executors: int, py_spy: Path | None) -> None:
    prefix = f"pipe{uuid.uuid4().hex[:6]}."
    topics = Topics(prefix=prefix)
    now_ms = wall_ms()

    async def prepare() -> tuple[int, int]:
        await ensure_topics(bootstrap, topics.specs())
        live = await produce(
            bootstrap, topics.executor_events, liveness_records(records, apps, executors, now_ms)
        )
        flows = await produce(
            bootstrap, topics.workflow_events, workflow_records(records, apps, now_ms)
        )
        return live, flows

    print(f"producing {records} executor events and {records} workflow events ...", flush=True)
    live, flows = on_own_loop(prepare())
    counts = {topics.executor_events: live, topics.workflow_events: flows}
    bare = {t: on_own_loop(bare_consume(bootstrap, [t], n)) for t, n in counts.items()}
    print("starting one baton worker on them ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="baton-pipeline-") as tmp:
        worker = worker_run(
            bootstrap, prefix, counts, Path(tmp), timeout_s=60 + records / 100, py_spy=py_spy
        )
    report(counts, bare, worker, topics, apps, executors)
    if py_spy is not None:
        print_profile(py_spy)


def report(
    counts: dict[str, int],
    bare: dict[str, Run],
    worker: dict[str, Run],
    topics: Topics,
    apps: int,
    executors: int,
) -> None:
    names = {
        topics.executor_events: f"liveness ({apps} apps x {executors} executors)",
        topics.workflow_events: "workflow statuses",
    }
    print()
    print(f"{'events':<38}{'records':>9}{'bare/s':>11}{'worker/s':>11}{'ratio':>8}")
    for topic, name in names.items():
        b, w = bare[topic], worker[topic]
        print(
            f"{name:<38}{counts[topic]:>9}{b.per_s:>11.0f}{w.per_s:>11.0f}"
            f"{w.per_s / b.per_s:>7.2f}x"
        )
    slowest = min(r.per_s for r in worker.values())
    verdict = "PASS" if slowest >= TARGET_PER_S else "FAIL"
    print(f"target >= {TARGET_PER_S} events/s per worker: {slowest:.0f} -> {verdict}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=50_000, help="records of each kind")
    parser.add_argument("--apps", type=int, default=50)
    parser.add_argument("--executors", type=int, default=20, help="executors per app")
    parser.add_argument(
        "--py-spy", type=Path, default=None, help="profile the worker into this raw file"
    )
    args = parser.parse_args(argv)
    try:
        on_embedded_broker(
            lambda b: measure(b, args.records, args.apps, args.executors, args.py_spy)
        )
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
