"""Capture limit: the highest sustained workflows/s one app runs with Baton's list within 5 s.

Runs Baton's roles as processes on the embedded broker (default settings), connects one real DBOS
executor (``tests/dbos_app``) and, for each rate of ``--rates`` in turn, submits ``quick``
workflows at that rate for ``--seconds``. Meanwhile it lists the step's workflows through the
console every ``POLL_S`` (``status=SUCCESS``, newest first) and notes when each is first listed
as SUCCESS; its capture lag is that time minus its DBOS completion (``completed_at``). A step
holds when the p99 lag (nearest rank) is within ``TARGET_P99_S`` and the submitter kept up
(``KEPT_UP`` of the rate). The first step that does not says what breaks first: the executor's
submissions, or capture. A workflow never listed within ``SETTLE_S`` after the step counts as
an infinite lag.

The baseline is DBOS itself (its ``completed_at``), measured in the same run. Figures are
indicative: the executor, PostgreSQL, the broker and Baton share this machine's cores.

Run from the repository root::

    .venv/bin/python bench/capture.py [--rates 2,5,10,20,40] [--seconds 10]
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

from bench.embedded import on_embedded_broker  # noqa: E402
from bench.gateway import positive_ints  # noqa: E402
from bench.one_executor import one_executor_app  # noqa: E402
from bench.recovery import nearest_rank  # noqa: E402
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
MAX_PER_STEP = 500
"""The console lists at most 500 workflows a page: a step submits at most that many."""


@dataclass(frozen=True, slots=True)
class Step:
    """One rate's outcome."""

    rate: float
    submitted: int
    achieved_rate: float
    lags_s: list[float]

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
            f"/api/v1/apps/{app}/workflows?status=SUCCESS&workflow_id_prefix={prefix}"
            f"&limit={MAX_PER_STEP}"
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
            seen_s = time.time()
            try:
                listed = self._cluster.api(self._path)["workflows"]
            except OSError:
                continue  # a slow console: the next poll
            for row in listed:
                if row["completed_at"] and row["workflow_id"] not in self.first_seen:
                    self.first_seen[row["workflow_id"]] = (seen_s, str(row["completed_at"]))

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


def submit(executor: ExecutorProcess, prefix: str, seconds: float, rate: float) -> list[str]:
    """Start ``quick`` workflows at ``rate`` (a few submissions in flight at once)."""
    count = min(MAX_PER_STEP, int(seconds * rate))
    ids = [f"{prefix}{i}" for i in range(count)]
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        for i, workflow_id in enumerate(ids):
            time.sleep(max(0.0, start + i / rate - time.monotonic()))
            pool.submit(executor.start_workflow, "quick", workflow_id, x=i)
    return ids


def run_step(
    cluster: BatonCluster, pool: ExecutorPool, index: int, rate: float, seconds: float
) -> Step:
    prefix = f"cap{index}-"
    with Watcher(cluster, pool.app, prefix) as watcher:
        start = time.monotonic()
        ids = submit(pool.started[0], prefix, seconds, rate)
        achieved = len(ids) / (time.monotonic() - start)
        deadline = time.monotonic() + SETTLE_S
        while time.monotonic() < deadline and not all(i in watcher.first_seen for i in ids):
            time.sleep(POLL_S)
    return Step(rate, len(ids), achieved, watcher.lags(ids))


def measure(bootstrap: str, rates: list[int], seconds: float) -> list[Step]:
    steps: list[Step] = []
    with (
        tempfile.TemporaryDirectory(prefix="baton-capture-") as tmp,
        one_executor_app(bootstrap, "capturelimit", Path(tmp)) as pool,
    ):
        print("executor connected; warming up 5 s", flush=True)
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
    args = parser.parse_args(argv)
    try:
        report(on_embedded_broker(lambda b: measure(b, args.rates, args.seconds)))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
