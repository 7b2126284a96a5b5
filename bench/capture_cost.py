"""Status-capture cost on the executor: DBOS requests per minute per app, idle and under load.

Baton never gets pushed to: it polls one live executor per app (``capture.cursor``). This script
runs Baton's roles as processes on the embedded broker (default settings), connects one real DBOS
executor (``tests/dbos_app``), and measures over two windows of ``--seconds`` each:

1. idle: no workflow runs;
2. load: ``quick`` workflows submitted at ``--rate`` per second;

For each window it reads the ``PollResult`` records of the app from the executor events topic and
prints polls, DBOS requests and workflow rows read per minute, plus, under load, the capture lag:
how long after a workflow completes (DBOS ``completed_at``) the console lists it as SUCCESS.

Run from the repository root::

    .venv/bin/python bench/capture_cost.py [--seconds 30] [--rate 5]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import datetime  # noqa: E402

from bench.embedded import on_embedded_broker  # noqa: E402
from bench.real_app import real_app  # noqa: E402
from streams.records import PollResult  # noqa: E402
from tests.baton_cluster import BatonCluster, read_topic  # noqa: E402
from tests.conformance.scenario import ExecutorPool  # noqa: E402
from tests.eventually import assert_eventually  # noqa: E402


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """What the polls of one window cost."""

    name: str
    seconds: float
    polls: int
    requests: int
    rows: int

    def per_minute(self, value: int) -> float:
        return value * 60 / self.seconds


def window(name: str, results: list[PollResult], start_ms: int, end_ms: int) -> Window:
    inside = [r for r in results if start_ms <= r.ts_ms < end_ms]
    return Window(
        name=name,
        seconds=(end_ms - start_ms) / 1000,
        polls=len(inside),
        requests=sum(r.requests for r in inside),
        rows=sum(r.workflows_seen for r in inside),
    )


def poll_results(cluster: BatonCluster, app: str) -> list[PollResult]:
    topic = f"{cluster.topic_prefix}executor-events"
    # The broker's loop runs in the main thread (blocked in this synchronous script): read the
    # topic on a loop of its own.
    with ThreadPoolExecutor(max_workers=1) as thread:
        records = thread.submit(
            asyncio.run, read_topic(cluster.kafka_bootstrap, topic, app)
        ).result()
    return [r for r in records if isinstance(r, PollResult)]


def capture_lags(cluster: BatonCluster, pool: ExecutorPool, ids: list[str]) -> list[float]:
    """Seconds from DBOS ``completed_at`` to the console listing the workflow as SUCCESS."""
    lags = []
    for workflow_id in ids:
        listed = assert_eventually(
            _listed_success_check(cluster, pool.app, workflow_id),
            timeout_s=30,
            message=f"{workflow_id} listed as SUCCESS",
            interval_s=0.02,
        )
        assert listed is not None
        seen_s, completed_at = listed
        completed_s = datetime.fromisoformat(completed_at.replace("Z", "+00:00")).timestamp()
        lags.append(max(0.0, seen_s - completed_s))
    return lags


def _listed_success_check(
    cluster: BatonCluster, app: str, workflow_id: str
) -> Callable[[], tuple[float, str] | None]:
    return lambda: _listed_success(cluster, app, workflow_id)


def _listed_success(cluster: BatonCluster, app: str, workflow_id: str) -> tuple[float, str] | None:
    seen_s = time.time()
    detail = cluster.api(f"/api/v1/apps/{app}/workflows?workflow_id_prefix={workflow_id}")
    listed = [w for w in detail["workflows"] if w["workflow_id"] == workflow_id]
    if listed and listed[0]["status"] == "SUCCESS" and listed[0]["completed_at"]:
        return seen_s, str(listed[0]["completed_at"])
    return None


def run(seconds: float, rate: float) -> None:
    on_embedded_broker(lambda bootstrap: measure(bootstrap, seconds, rate))


def measure(bootstrap: str, seconds: float, rate: float) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="baton-capture-") as tmp,
        real_app(bootstrap, "capturebench", Path(tmp)) as pool,
    ):
        cluster = pool.cluster
        print("executor connected; warming up 5 s", flush=True)
        time.sleep(5)
        idle_start = int(time.time() * 1000)
        print(f"idle window: {seconds:.0f} s", flush=True)
        time.sleep(seconds)
        load_start = int(time.time() * 1000)
        print(f"load window: {seconds:.0f} s at {rate:g} workflows/s", flush=True)
        ids = submit(pool, seconds, rate)
        load_end = int(time.time() * 1000)
        lags = capture_lags(cluster, pool, ids[-20:])
        results = poll_results(cluster, pool.app)
        report(
            [
                window("idle", results, idle_start, load_start),
                window(f"load ({rate:g} wf/s)", results, load_start, load_end),
            ],
            lags,
        )


def submit(pool: ExecutorPool, seconds: float, rate: float) -> list[str]:
    executor = pool.started[0]
    ids: list[str] = []
    deadline = time.monotonic() + seconds
    next_at = time.monotonic()
    while time.monotonic() < deadline:
        workflow_id = f"load-{len(ids)}"
        executor.start_workflow("quick", workflow_id, x=len(ids))
        ids.append(workflow_id)
        next_at += 1 / rate
        time.sleep(max(0.0, next_at - time.monotonic()))
    return ids


def report(windows: list[Window], lags: list[float]) -> None:
    print()
    print(f"{'window':<18}{'polls/min':>12}{'requests/min':>15}{'rows read/min':>16}")
    for w in windows:
        print(
            f"{w.name:<18}{w.per_minute(w.polls):>12.1f}{w.per_minute(w.requests):>15.1f}"
            f"{w.per_minute(w.rows):>16.1f}"
        )
    if len(windows) == 2 and windows[0].requests:
        ratio = windows[1].per_minute(windows[1].requests) / windows[0].per_minute(
            windows[0].requests
        )
        print(f"requests under load / idle: {ratio:.2f}x")
    if lags:
        print(
            f"capture lag (completed -> listed SUCCESS), last {len(lags)} workflows: "
            f"median {statistics.median(lags):.2f} s, max {max(lags):.2f} s"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each window")
    parser.add_argument("--rate", type=float, default=5.0, help="workflows per second under load")
    args = parser.parse_args(argv)
    try:
        run(args.seconds, args.rate)
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
