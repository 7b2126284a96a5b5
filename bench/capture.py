"""Capture limit: the highest sustained workflows/s one app runs with Baton's list within 5 s.

Runs Baton's roles as processes on the embedded broker (default settings; ``--broker kafka``:
one Apache Kafka node, ``bench/brokers.py``), connects
``--executors`` real DBOS executors of one app (``tests/dbos_app``, one by default) and, for each
rate of ``--rates`` in turn, starts ``quick`` workflows at that rate for ``--seconds``, spread
evenly over the executors: every ``TICK_S`` each executor is asked, in one request
(``POST /start_many``), to start its share of what is due. Meanwhile it lists the step's
workflows through the console every ``POLL_S`` (``status=SUCCESS``, every page of them) and
notes when each is first listed as SUCCESS; its capture lag is that time minus its DBOS
completion (``completed_at``). A step
holds when the p99 lag (nearest rank) is within ``TARGET_P99_S`` and the submitter kept up
(``KEPT_UP`` of the rate). The first step that does not says what breaks first: the executor's
submissions, or capture. A workflow never listed within ``SETTLE_S`` after the step counts as
an infinite lag.

The baseline is DBOS itself (its ``completed_at``), measured in the same run. Figures are
indicative: the executor, PostgreSQL, the broker and Baton share this machine's cores.

Run from the repository root::

    .venv/bin/python bench/capture.py [--rates 2,5,10,20,40] [--seconds 10] [--executors 1]
        [--broker tansu|kafka]
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
import math  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import datetime  # noqa: E402

from bench.brokers import add_broker_option, on_broker  # noqa: E402
from bench.gateway import positive_ints  # noqa: E402
from bench.procstat import cpu_s  # noqa: E402
from bench.real_app import real_app  # noqa: E402
from bench.recovery import nearest_rank  # noqa: E402
from bench.shares import share  # noqa: E402
from tests.baton_cluster import BatonCluster  # noqa: E402
from tests.conformance.scenario import ExecutorPool  # noqa: E402
from tests.dbos_app.harness import (  # noqa: E402
    ExecutorProcess,
)

TARGET_P99_S = 5.0
KEPT_UP = 0.9
"""A step whose submitter achieved less than this share of its rate: the executor broke first."""
POLL_S = 0.25
SETTLE_S = 30.0
PAGE = 500
"""The console lists at most 500 workflows a page: the watcher reads every page of a step."""
TICK_S = 0.1
"""How often the executors are asked to start what is due."""


@dataclass(frozen=True, slots=True)
class Step:
    """One rate's outcome."""

    rate: float
    submitted: int
    achieved_rate: float
    lags_s: list[float]
    cpu_s: dict[str, float]
    """CPU seconds each process spent over the step (from its first start to its last listed)."""

    def cpu_per_thousand(self) -> dict[str, float]:
        """CPU seconds per 1,000 workflows, by process."""
        return {name: 1000 * s / max(1, self.submitted) for name, s in self.cpu_s.items()}

    @property
    def p99_s(self) -> float:
        return nearest_rank(self.lags_s, 0.99)

    @property
    def median_s(self) -> float:
        return statistics.median(self.lags_s)

    @property
    def kept_up(self) -> bool:
        return self.achieved_rate >= KEPT_UP * self.rate

    @property
    def holds(self) -> bool:
        return self.kept_up and self.p99_s <= TARGET_P99_S


class Watcher:
    """Lists a step's SUCCESS workflows through the console, noting when each is first seen."""

    def __init__(self, cluster: BatonCluster, app: str, prefix: str) -> None:
        self._path = (
            f"/api/v1/apps/{app}/workflows?status=SUCCESS&workflow_id_prefix={prefix}&limit={PAGE}"
        )
        self._cluster = cluster
        self.first_seen: dict[str, tuple[float, str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            offset = 0
            while True:
                seen_s = time.time()
                try:
                    listed = self._cluster.api(f"{self._path}&offset={offset}")["workflows"]
                except OSError:
                    break  # a slow console: the next round
                for row in listed:
                    if row["completed_at"] and row["workflow_id"] not in self.first_seen:
                        self.first_seen[row["workflow_id"]] = (seen_s, str(row["completed_at"]))
                if len(listed) < PAGE:
                    break
                offset += PAGE

    def lags(self, ids: list[str]) -> list[float]:
        lags = []
        for workflow_id in ids:
            seen = self.first_seen.get(workflow_id)
            if seen is None:
                lags.append(math.inf)
                continue
            completed_s = datetime.fromisoformat(seen[1].replace("Z", "+00:00")).timestamp()
            lags.append(max(0.0, seen[0] - completed_s))
        return lags


def submit(executors: list[ExecutorProcess], prefix: str, seconds: float, rate: float) -> int:
    """Start ``quick`` workflows ``<prefix><n>`` at ``rate`` for ``seconds``, each ``TICK_S``
    what is due, split over ``executors`` (one request to each, side by side); how many."""
    total = int(seconds * rate)
    start = time.monotonic()
    sent = tick = 0
    with ThreadPoolExecutor(max_workers=len(executors)) as pool:
        while sent < total:
            tick += 1
            due = min(total, round(tick * TICK_S * rate))
            runs = [share(sent, due - sent, e, len(executors)) for e in range(len(executors))]
            starts = [
                pool.submit(executor.start_many, "quick", prefix, first, count, x=1)
                for executor, (first, count) in zip(executors, runs, strict=True)
                if count
            ]
            for started in starts:
                started.result()
            sent = due
            time.sleep(max(0.0, start + tick * TICK_S - time.monotonic()))
    return total


def processes(pool: ExecutorPool) -> dict[str, int]:
    """The pids of Baton's roles and of the executors."""
    pids = {
        name: role.process.pid
        for name, role in pool.cluster.roles.items()
        if role.process is not None
    }
    pids.update({f"executor{i}": executor.pid for i, executor in enumerate(pool.started)})
    return pids


def run_step(
    cluster: BatonCluster, pool: ExecutorPool, index: int, rate: float, seconds: float
) -> Step:
    prefix = f"cap{index}-"
    pids = processes(pool)
    cpu_before = {name: cpu_s(pid) for name, pid in pids.items()}
    with Watcher(cluster, pool.app, prefix) as watcher:
        start = time.monotonic()
        count = submit(pool.started, prefix, seconds, rate)
        achieved = count / (time.monotonic() - start)
        ids = [f"{prefix}{n}" for n in range(count)]
        deadline = time.monotonic() + SETTLE_S
        while time.monotonic() < deadline and not all(i in watcher.first_seen for i in ids):
            time.sleep(POLL_S)
    cpu = {name: cpu_s(pid) - cpu_before[name] for name, pid in pids.items()}
    return Step(rate, count, achieved, watcher.lags(ids), cpu)


def measure(bootstrap: str, rates: list[int], seconds: float, executors: int) -> list[Step]:
    steps: list[Step] = []
    with (
        tempfile.TemporaryDirectory(prefix="baton-capture-") as tmp,
        real_app(bootstrap, "capturelimit", Path(tmp), executors=executors) as pool,
    ):
        print(f"{executors} executor(s) connected; warming up 5 s", flush=True)
        time.sleep(5)
        for index, rate in enumerate(rates):
            step = run_step(pool.cluster, pool, index, rate, seconds)
            print_step(step)
            steps.append(step)
            if not step.holds:
                break
    return steps


def print_step(step: Step) -> None:
    verdict = "holds" if step.holds else "BREAKS"
    print(
        f"{step.rate:>6g} wf/s: {step.submitted} submitted at {step.achieved_rate:.1f}/s; "
        f"lag median {step.median_s:.2f} s, p99 {step.p99_s:.2f} s -> {verdict}",
        flush=True,
    )
    per_thousand = step.cpu_per_thousand()
    print(
        "        CPU s per 1,000 workflows: "
        + ", ".join(f"{name} {s:.2f}" for name, s in sorted(per_thousand.items())),
        flush=True,
    )


def report(steps: list[Step]) -> None:
    held = [s for s in steps if s.holds]
    best = max((s.rate for s in held), default=None)
    print()
    if best is None:
        print("no rate held")
    else:
        print(
            f"highest sustained rate with the list within {TARGET_P99_S:g} s (p99): {best:g} wf/s"
        )
    broken = next((s for s in steps if not s.holds), None)
    if broken is None:
        print("nothing broke within the rates tried: try higher --rates")
    elif not broken.kept_up:
        print(
            f"first to break at {broken.rate:g} wf/s: the executor's submissions "
            f"({broken.achieved_rate:.1f}/s achieved)"
        )
    else:
        print(f"first to break at {broken.rate:g} wf/s: capture (p99 lag {broken.p99_s:.2f} s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--rates", type=positive_ints, default=[2, 5, 10, 20, 40], help="wf/s steps"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each step")
    parser.add_argument("--executors", type=int, default=1, help="real DBOS executors")
    add_broker_option(parser)
    args = parser.parse_args(argv)
    try:
        report(
            on_broker(
                args.broker,
                lambda broker: measure(broker.bootstrap, args.rates, args.seconds, args.executors),
            )
        )
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
