"""Management action cost: how long one action takes, and how fast a bulk job gets through.

Runs Baton's roles as processes on the embedded broker (default settings, SQLite store) with one
real DBOS executor (``tests/dbos_app``), then measures:

1. single-action latency: ``--actions`` running workflows (once the console lists them), each
   looked up live (``GET .../workflows/{id}``, the baseline: console -> Kafka -> gateway ->
   executor and back, read-only) and then cancelled (``POST .../workflows/{id}/cancel``, the same
   path plus the audit record), after one untimed warm-up pair; p50, p95 and max of each HTTP
   round trip and the ratio cancel / lookup;
2. bulk throughput: ``--bulk`` workflows enqueued on the app's ``serial`` queue behind a
   long-running one (concurrency 1: they stay ENQUEUED); once the console lists them all, the
   dry-run preview's round trip, then a filter cancel (``POST .../bulk``) timed from the POST to
   the job's state ``succeeded`` (polling ``GET .../bulk/{job_id}``), in workflows per second;
   every workflow is then checked CANCELLED by the executor's DBOS.

Progress goes to stderr, figures to stdout. Exit code 0 when the benchmark ran, 1 on an error
(the work directory with every process's log is kept), 130 when interrupted.

Run from the repository root::

    .venv/bin/python bench/actions.py [--actions 30] [--bulk 500]
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
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import datetime  # noqa: E402
from typing import Any, TypeVar  # noqa: E402
from urllib.parse import quote, urlencode  # noqa: E402

from bench.embedded import on_embedded_broker  # noqa: E402
from bench.real_app import real_app  # noqa: E402
from bench.recovery import BenchError, nearest_rank, wait_for  # noqa: E402
from tests.baton_cluster import BatonCluster  # noqa: E402
from tests.dbos_app.harness import (  # noqa: E402
    ExecutorProcess,
)

T = TypeVar("T")

LONG_STEP_S = 300.0
"""Step length of the workflows that must stay running for the whole benchmark."""
CONTROL_THREADS = 8
"""Concurrent requests to the executor's control server (enqueueing, status checks)."""
CAPTURE_TIMEOUT_S = 90.0
JOB_TIMEOUT_S = 90.0
JOB_POLL_S = 0.05
QUEUE = "serial"


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- figures --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Latency:
    """Round trips of one kind of request, in seconds."""

    label: str
    samples_s: tuple[float, ...]

    @property
    def p50_s(self) -> float:
        return statistics.median(self.samples_s)

    @property
    def p95_s(self) -> float:
        return nearest_rank(list(self.samples_s), 0.95)

    @property
    def max_s(self) -> float:
        return max(self.samples_s)

    def row(self) -> str:
        return (
            f"{self.label:<34}{len(self.samples_s):>5}{self.p50_s * 1000:>10.1f}"
            f"{self.p95_s * 1000:>10.1f}{self.max_s * 1000:>10.1f}"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkResult:
    """One filter cancel of ``total`` ENQUEUED workflows."""

    total: int
    enqueue_s: float
    """Enqueueing them through the executor's control server."""
    listed_s: float
    """From the last enqueue until the console listed them all as ENQUEUED."""
    preview_s: float
    """The dry run's HTTP round trip."""
    post_s: float
    """The job-starting POST's round trip (202)."""
    job_s: float
    """From sending the POST to seeing the job ``succeeded`` (poll every ``JOB_POLL_S``)."""
    server_job_s: float
    """The job's own ``created_at`` -> ``finished_at``."""
    polls: int

    def rate(self) -> float:
        return self.total / self.job_s


def report(detail: Latency, cancel: Latency, bulk: BulkResult) -> None:
    print()
    print(
        f"{'single actions (HTTP round trip)':<34}{'n':>5}"
        f"{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}"
    )
    print(detail.row())
    print(cancel.row())
    print(
        f"cancel / live lookup: p50 {cancel.p50_s / detail.p50_s:.2f}x, "
        f"p95 {cancel.p95_s / detail.p95_s:.2f}x, max {cancel.max_s / detail.max_s:.2f}x"
    )
    print()
    print(f"bulk cancel of {bulk.total} ENQUEUED workflows (filter: status, queue, id prefix)")
    print(f"  enqueue through the executor           {bulk.enqueue_s:8.2f} s")
    print(f"  last enqueue -> console lists them all {bulk.listed_s:8.2f} s")
    print(f"  dry-run preview (matched {bulk.total})          {bulk.preview_s * 1000:8.1f} ms")
    print(f"  POST /bulk round trip (202)            {bulk.post_s * 1000:8.1f} ms")
    print(
        f"  POST -> job succeeded                  {bulk.job_s:8.2f} s "
        f"({bulk.polls} polls every {JOB_POLL_S * 1000:.0f} ms)"
    )
    print(f"  job created_at -> finished_at          {bulk.server_job_s:8.2f} s")
    print(f"  throughput                             {bulk.rate():8.1f} workflows/s")
    print(f"  all {bulk.total} CANCELLED according to the executor's DBOS")


# -- single actions -------------------------------------------------------------------------------


def timed(call: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def workflow_path(app: str, workflow_id: str) -> str:
    return f"/api/v1/apps/{app}/workflows/{quote(workflow_id, safe='')}"


def lookup_and_cancel(cluster: BatonCluster, app: str, workflow_id: str) -> tuple[float, float]:
    """One live detail lookup, then one cancel, of ``workflow_id``: their round trips."""
    path = workflow_path(app, workflow_id)
    detail_s, (status, detail) = timed(lambda: cluster.get(path))
    if status != 200 or detail.get("source") != "live":
        raise BenchError(f"GET {path}: HTTP {status}, not a live answer: {detail}")
    cancel_s, (status, action) = timed(lambda: cluster.post(f"{path}/cancel"))
    if status != 200 or action.get("outcome") != "succeeded":
        raise BenchError(f"POST {path}/cancel: HTTP {status}: {action}")
    return detail_s, cancel_s


def single_actions(
    cluster: BatonCluster, app: str, executor: ExecutorProcess, count: int
) -> tuple[Latency, Latency]:
    """Time ``count`` lookups and cancels, alternating, after one untimed warm-up pair."""
    ids = [f"single-{i:03d}" for i in range(count + 1)]
    for workflow_id in ids:
        executor.start_workflow("multi_step", workflow_id, n=1, step_seconds=LONG_STEP_S)
    for workflow_id in ids:
        wait_dbos_status(executor, workflow_id, "PENDING")
    # Operators act on what the console shows; this also lets the capture's first polls settle.
    wait_listed(cluster, app, "single-", "PENDING", len(ids))
    progress(f"{len(ids)} workflows running; timing {count} lookups and cancels (1 warm-up)")
    lookup_and_cancel(cluster, app, ids[0])
    pairs = [lookup_and_cancel(cluster, app, workflow_id) for workflow_id in ids[1:]]
    not_cancelled = [w for w in ids if dbos_status(executor, w) != "CANCELLED"]
    if not_cancelled:
        raise BenchError(f"DBOS does not say CANCELLED for {not_cancelled}")
    return (
        Latency(label="GET workflow (live lookup)", samples_s=tuple(d for d, _ in pairs)),
        Latency(label="POST workflow cancel", samples_s=tuple(c for _, c in pairs)),
    )


def dbos_status(executor: ExecutorProcess, workflow_id: str) -> str | None:
    described = executor.workflow_status(workflow_id)
    return None if described is None else str(described["status"])


def wait_dbos_status(executor: ExecutorProcess, workflow_id: str, status: str) -> None:
    wait_for(
        lambda: dbos_status(executor, workflow_id) == status, 30, f"DBOS: {workflow_id} {status}"
    )


# -- bulk -----------------------------------------------------------------------------------------


def enqueue_behind_blocker(executor: ExecutorProcess, ids: list[str]) -> float:
    """Occupy ``serial`` with a long workflow, then enqueue ``ids`` behind it; returns seconds."""
    executor.start_workflow(
        "multi_step", "bulk-blocker", queue=QUEUE, n=1, step_seconds=LONG_STEP_S
    )
    wait_dbos_status(executor, "bulk-blocker", "PENDING")
    progress(f"enqueueing {len(ids)} workflows on {QUEUE!r} behind bulk-blocker")

    def enqueue(workflow_id: str) -> None:
        executor.start_workflow("quick", workflow_id, queue=QUEUE, x=1)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CONTROL_THREADS) as pool:
        list(pool.map(enqueue, ids))
    return time.perf_counter() - started


def listed(cluster: BatonCluster, app: str, prefix: str, status: str) -> int:
    """How many workflows under ``prefix`` the console lists with ``status``."""
    query = urlencode({"workflow_id_prefix": prefix, "limit": 1})
    page = cluster.api(f"/api/v1/apps/{app}/workflows?{query}")
    return int(page["counts"].get(status, 0))


def wait_listed(cluster: BatonCluster, app: str, prefix: str, status: str, total: int) -> float:
    """Wait until the console lists ``total`` workflows under ``prefix`` with ``status``."""
    started = time.perf_counter()
    last = -1

    def all_listed() -> bool:
        nonlocal last
        count = listed(cluster, app, prefix, status)
        if count != last:
            progress(f"  console lists {count}/{total} as {status}")
            last = count
        return count >= total

    wait_for(all_listed, CAPTURE_TIMEOUT_S, f"the console lists {total} {status}", 0.25)
    return time.perf_counter() - started


def run_job(
    cluster: BatonCluster, app: str, request: dict[str, Any]
) -> tuple[dict[str, Any], float, float, int]:
    """Start the bulk job and poll it until it ends: ``(job, post_s, job_s, polls)``."""
    started = time.perf_counter()
    status, job = cluster.post(f"/api/v1/apps/{app}/bulk", request)
    post_s = time.perf_counter() - started
    if status != 202:
        raise BenchError(f"POST bulk: HTTP {status}: {job}")
    path = f"/api/v1/apps/{app}/bulk/{job['job_id']}"
    polls = 0
    deadline = started + JOB_TIMEOUT_S
    while job["state"] == "running":
        if time.perf_counter() > deadline:
            raise BenchError(
                f"bulk job still running after {JOB_TIMEOUT_S:.0f} s: {job['done']} done"
            )
        time.sleep(JOB_POLL_S)
        job = cluster.api(path)
        polls += 1
    return job, post_s, time.perf_counter() - started, polls


def check_cancelled(executor: ExecutorProcess, ids: list[str]) -> None:
    with ThreadPoolExecutor(max_workers=CONTROL_THREADS) as pool:
        statuses = dict(zip(ids, pool.map(lambda w: dbos_status(executor, w), ids), strict=True))
    wrong = {w: s for w, s in statuses.items() if s != "CANCELLED"}
    if wrong:
        raise BenchError(
            f"{len(wrong)} of {len(ids)} not CANCELLED per DBOS, e.g. {list(wrong.items())[:5]}"
        )
    if dbos_status(executor, "bulk-blocker") != "PENDING":
        raise BenchError("the filter cancelled bulk-blocker too")


def bulk_cancel(
    cluster: BatonCluster, app: str, executor: ExecutorProcess, total: int
) -> BulkResult:
    prefix = "bulk-q"
    ids = [f"{prefix}{i:05d}" for i in range(total)]
    enqueue_s = enqueue_behind_blocker(executor, ids)
    progress(f"enqueued in {enqueue_s:.1f} s; waiting for the console to list them")
    listed_s = wait_listed(cluster, app, prefix, "ENQUEUED", total)
    request: dict[str, Any] = {
        "action": "cancel",
        "filter": {"status": ["ENQUEUED"], "queue": QUEUE, "workflow_id_prefix": prefix},
    }
    preview_s, (status, preview) = timed(
        lambda: cluster.post(f"/api/v1/apps/{app}/bulk", {**request, "dry_run": True})
    )
    if status != 200 or preview.get("matched") != total:
        raise BenchError(f"dry run: HTTP {status}: {preview}")
    progress(f"dry run matched {total}; starting the bulk cancel")
    job, post_s, job_s, polls = run_job(cluster, app, request)
    if (job["state"], job["succeeded"], job["failed"]) != ("succeeded", total, 0):
        raise BenchError(
            f"bulk job ended {job['state']}: {job['succeeded']} ok, {job['failed']} failed"
        )
    progress(f"job {job['job_id']} succeeded in {job_s:.2f} s; checking DBOS statuses")
    check_cancelled(executor, ids)
    return BulkResult(
        total=total,
        enqueue_s=enqueue_s,
        listed_s=listed_s,
        preview_s=preview_s,
        post_s=post_s,
        job_s=job_s,
        server_job_s=seconds_between(job["created_at"], job["finished_at"]),
        polls=polls,
    )


def seconds_between(start_iso: str, end_iso: str) -> float:
    return (datetime.fromisoformat(end_iso) - datetime.fromisoformat(start_iso)).total_seconds()


# -- setup ----------------------------------------------------------------------------------------


def measure(bootstrap: str, workdir: Path, actions: int, bulk: int) -> None:
    progress("starting baton's roles and one executor")
    with real_app(bootstrap, "actionbench", workdir, database_prefix="baton_bench_actions") as pool:
        cluster, (executor,) = pool.cluster, pool.started
        progress(f"baton roles up (console {cluster.console_url}); one executor connected")
        detail, cancel = single_actions(cluster, pool.app, executor, actions)
        result = bulk_cancel(cluster, pool.app, executor, bulk)
        report(detail, cancel, result)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--actions", type=int, default=30, help="single actions to time (30)")
    parser.add_argument("--bulk", type=int, default=500, help="workflows in the bulk job (500)")
    args = parser.parse_args(argv)
    if args.actions < 1:
        parser.error("--actions must be at least 1")
    if not 1 <= args.bulk <= 10_000:
        parser.error("--bulk must be between 1 and 10000 (a bulk job's limit)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="baton-bench-actions-"))
    started = time.monotonic()
    try:
        on_embedded_broker(lambda bootstrap: measure(bootstrap, workdir, args.actions, args.bulk))
    except KeyboardInterrupt:
        progress(f"interrupted; logs kept in {workdir}")
        return 130
    except (BenchError, AssertionError, RuntimeError, OSError) as exc:
        progress(f"error: {type(exc).__name__}: {exc}\nlogs kept in {workdir}")
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    progress(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
