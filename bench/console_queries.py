"""Console query benchmark: how fast do the workflows page's queries answer over N workflows?

Creates a store (a SQLite file in a temporary directory, and/or a throwaway database
``baton_bench_<pid>`` on the test PostgreSQL server, ``BATON_TEST_PG_URL``, that is dropped at the
end), migrates it as ``Store.start()`` does, and bulk-loads N synthetic workflows of one app
(plain bulk inserts, COPY on PostgreSQL, with ``workflow_counts`` filled to match; not through
``upsert_workflows``). Then it times, each ``--runs`` times in its own transaction as the console
runs it:

- ``list_workflows`` with a status filter (limit 50): the first page, a deep page reached
  through cursors, and with a name filter; a two-status filter and an id prefix;
- ``count_by_status`` for the page's status tabs (the status filter is ignored), also with a
  name filter (both read ``workflow_counts``), and with filters it must count rows for (a time
  range of 10,000 rows; one executor's eighth of all rows), to show that cost;
- the workflows page: that list and those counts together;
- the unfiltered first page, the baseline the filtered figures are compared with.

It prints p50 and p95 per query and PASS/FAIL against p95 <= 50 ms. The verdict does not change
the exit code: 0 when the benchmark ran, 1 on an error, 130 when interrupted.

Run from the repository root::

    .venv/bin/python bench/console_queries.py [--rows 1000000] [--dialect sqlite|postgresql|both]
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
import math  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import signal  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator  # noqa: E402
from contextlib import asynccontextmanager  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

from sqlalchemy import Table, insert, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine  # noqa: E402

from store.database import Store, sqlite_url  # noqa: E402
from store.models import NO_NAME, NO_QUEUE, WorkflowCountRow, WorkflowRow  # noqa: E402
from store.paging import SortOrder  # noqa: E402
from store.workflow_projection import workflow_values  # noqa: E402
from store.workflow_queries import WorkflowFilter, count_by_status, list_workflows  # noqa: E402
from streams.ids import AppName, WorkflowId  # noqa: E402
from streams.records import ACTIVE_STATES, WorkflowState, WorkflowStatus  # noqa: E402
from tests.dbos_app.system_db import ADMIN_DB_URL, database_url  # noqa: E402

TARGET_P95_MS = 50.0
APP = "bench"
PAGE = 50
DEEP_PAGES = 200
"""The deep page is the one after this many pages of the status filter (10,000 rows in)."""
LOAD_CHUNK = 20_000
PROGRESS_ROWS = 100_000
RECENT_ROWS = 10_000
"""A time-range filter matching this many of the newest workflows."""
T0_MS = 1_700_000_000_000
PG_ADMIN_URL = ADMIN_DB_URL.replace("postgresql://", "postgresql+asyncpg://", 1)
PG_BENCH_DB = "baton_bench_{pid}"
"""The throwaway database, per process: two runs at once do not drop each other's."""

_WORKFLOWS: Table = WorkflowRow.__table__  # type: ignore[assignment]
_COUNTS: Table = WorkflowCountRow.__table__  # type: ignore[assignment]

STATUSES: tuple[tuple[str, float], ...] = (
    (WorkflowState.SUCCESS, 0.88),
    (WorkflowState.ERROR, 0.05),
    (WorkflowState.PENDING, 0.03),
    (WorkflowState.ENQUEUED, 0.02),
    (WorkflowState.CANCELLED, 0.01),
    (WorkflowState.DELAYED, 0.005),
    (WorkflowState.MAX_RECOVERY_ATTEMPTS_EXCEEDED, 0.005),
)
NAMES = tuple(f"orders.workflow_{i:02d}" for i in range(20))
QUEUES = (None, None, "default", "emails", "payments")
FILTER_STATUS = WorkflowState.ERROR
FILTER_NAME = NAMES[3]


# -- synthetic data -------------------------------------------------------------------------------


def synthetic_rows(count: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """``count`` workflow rows of one app, created 1.5 ms apart on average (so some tie).

    Each is a ``WorkflowStatus`` as a gateway would report it, made a row as the projection makes
    it (``workflow_values``), so the rows have every column whatever the record holds.
    """
    rng = random.Random(seed)
    statuses = [s for s, _ in STATUSES]
    weights = [w for _, w in STATUSES]
    name_weights = [1 / (i + 1) for i in range(len(NAMES))]
    for i in range(count):
        status = rng.choices(statuses, weights)[0]
        created = T0_MS + i * 3 // 2
        done = status not in ACTIVE_STATES
        record = WorkflowStatus(
            app=AppName(APP),
            workflow_id=WorkflowId(str(uuid.UUID(int=rng.getrandbits(128), version=4))),
            status=status,
            observed_at_ms=created + 300,
            name=rng.choices(NAMES, name_weights)[0],
            input=f'{{"args": [{i}], "kwargs": {{}}}}',
            output='{"ok": true}' if status == WorkflowState.SUCCESS else None,
            error="ValueError: boom" if status == WorkflowState.ERROR else None,
            has_input=True,
            has_output=True,
            created_at_ms=created,
            updated_at_ms=created + 250,
            completed_at_ms=created + 250 if done else None,
            queue_name=rng.choice(QUEUES),
            application_version="v1" if i < count // 2 else "v2",
            executor_id=f"executor-{i % 8}",
        )
        row = workflow_values(record)
        assert row is not None  # the app and the id are short
        yield row


def _chunks(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def load(store: Store, count: int) -> None:
    """Bulk-load ``count`` workflows and their counters, printing progress."""
    columns = [c.name for c in _WORKFLOWS.c]
    counts: Counter[tuple[str, str, str]] = Counter()
    started = time.perf_counter()
    loaded = 0
    for chunk in _chunks(synthetic_rows(count), LOAD_CHUNK):
        async with store.engine.begin() as conn:
            if store.dialect == "postgresql":
                raw = await conn.get_raw_connection()
                records = [tuple(row[c] for c in columns) for row in chunk]
                await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                    "workflows", records=records, columns=columns
                )
            else:
                await conn.execute(insert(_WORKFLOWS), chunk)
        counts.update(
            (row["name"] or NO_NAME, row["queue_name"] or NO_QUEUE, row["status"]) for row in chunk
        )
        loaded += len(chunk)
        if loaded % PROGRESS_ROWS < LOAD_CHUNK or loaded == count:
            rate = loaded / (time.perf_counter() - started)
            print(f"  loaded {loaded:>9,} / {count:,} ({rate:,.0f} rows/s)", flush=True)
    async with store.engine.begin() as conn:
        await conn.execute(
            insert(_COUNTS),
            [
                {"app": APP, "name": name, "queue_name": queue, "status": status, "n": n}
                for (name, queue, status), n in counts.items()
            ],
        )
    async with store.engine.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        # What a live database has on its own: PostgreSQL's autovacuum keeps statistics and the
        # visibility map (index-only scans); SQLite has no statistics unless told to.
        if store.dialect == "postgresql":
            await autocommit.exec_driver_sql("VACUUM ANALYZE")
        else:
            await autocommit.exec_driver_sql("ANALYZE")
    print(f"  load + analyze: {time.perf_counter() - started:.0f} s")


# -- timing ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timing:
    """One query's latencies, in milliseconds."""

    label: str
    samples_ms: list[float]

    def percentile(self, q: float) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


Query = Callable[[AsyncSession], Awaitable[object]]


async def time_query(store: Store, label: str, query: Query, runs: int) -> Timing:
    """Run ``query`` ``runs`` times (after a few warm-ups), each in its own transaction."""
    for _ in range(5):
        async with store.sessionmaker.begin() as session:
            await query(session)
    samples: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        async with store.sessionmaker.begin() as session:
            await query(session)
        samples.append((time.perf_counter() - started) * 1000)
    return Timing(label, samples)


async def deep_cursor(store: Store, flt: WorkflowFilter) -> str:
    """The cursor of the page after ``DEEP_PAGES`` pages of ``flt``."""
    cursor: str | None = None
    async with store.sessionmaker.begin() as session:
        for _ in range(DEEP_PAGES):
            page = await list_workflows(session, APP, flt, limit=PAGE, cursor=cursor)
            if page.next_cursor is None:
                raise RuntimeError(f"fewer than {DEEP_PAGES} pages: load more rows")
            cursor = page.next_cursor
    assert cursor is not None
    return cursor


async def measure(store: Store, count: int, runs: int) -> list[Timing]:
    """Every timed query of the workflows page, the baseline last."""
    status = WorkflowFilter(statuses=(FILTER_STATUS,))
    recent = WorkflowFilter(created_after_ms=T0_MS + (count - RECENT_ROWS) * 3 // 2)
    named = WorkflowFilter(statuses=(FILTER_STATUS,), name=FILTER_NAME)
    active = WorkflowFilter(statuses=(WorkflowState.PENDING, WorkflowState.ENQUEUED))
    deep = await deep_cursor(store, status)

    async def page(session: AsyncSession) -> None:
        await list_workflows(session, APP, status, limit=PAGE)
        await count_by_status(session, APP, status)

    queries: list[tuple[str, Query]] = [
        (
            f"list status={FILTER_STATUS} page 1",
            lambda s: list_workflows(s, APP, status, limit=PAGE),
        ),
        (
            f"list status={FILTER_STATUS} page {DEEP_PAGES + 1} (cursor)",
            lambda s: list_workflows(s, APP, status, limit=PAGE, cursor=deep),
        ),
        (
            f"list status={FILTER_STATUS} oldest first",
            lambda s: list_workflows(s, APP, status, limit=PAGE, sort=SortOrder.OLDEST),
        ),
        (
            f"list status={FILTER_STATUS} name={FILTER_NAME}",
            lambda s: list_workflows(s, APP, named, limit=PAGE),
        ),
        ("list status=PENDING|ENQUEUED", lambda s: list_workflows(s, APP, active, limit=PAGE)),
        (
            "list id prefix 'ab'",
            lambda s: list_workflows(s, APP, WorkflowFilter(workflow_id_prefix="ab"), limit=PAGE),
        ),
        ("count_by_status (status tabs)", lambda s: count_by_status(s, APP, status)),
        (f"count_by_status name={FILTER_NAME}", lambda s: count_by_status(s, APP, named)),
        (
            f"count_by_status last {RECENT_ROWS:,} created",
            lambda s: count_by_status(s, APP, recent),
        ),
        (
            f"count_by_status executor=executor-3 ({count // 8:,})",
            lambda s: count_by_status(s, APP, WorkflowFilter(executor_id="executor-3")),
        ),
        ("workflows page: list + counts", page),
        (
            "baseline: unfiltered page 1",
            lambda s: list_workflows(s, APP, WorkflowFilter(), limit=PAGE),
        ),
    ]
    timings = []
    for label, query in queries:
        timings.append(await time_query(store, label, query, runs))
    return timings


def report(dialect: str, rows: int, timings: list[Timing]) -> None:
    baseline = timings[-1].percentile(0.95)
    print(f"\n{dialect}, {rows:,} workflows, p95 target <= {TARGET_P95_MS:.0f} ms:")
    print(f"  {'query':<44} {'p50 ms':>8} {'p95 ms':>8} {'p95/base':>9}  verdict")
    for t in timings:
        p50, p95 = t.percentile(0.50), t.percentile(0.95)
        ratio = p95 / baseline if baseline else float("nan")
        verdict = "PASS" if p95 <= TARGET_P95_MS else "FAIL"
        print(f"  {t.label:<44} {p50:>8.2f} {p95:>8.2f} {ratio:>8.2f}x  {verdict}")


# -- databases ------------------------------------------------------------------------------------


@asynccontextmanager
async def sqlite_store() -> AsyncIterator[Store]:
    with tempfile.TemporaryDirectory(prefix="baton-bench-console-") as tmp:
        async with Store(sqlite_url(Path(tmp) / "baton.db")) as store:
            yield store


@asynccontextmanager
async def postgres_store() -> AsyncIterator[Store]:
    name = PG_BENCH_DB.format(pid=os.getpid())
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            async with Store(database_url(name)) as store:
                yield store
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def run(dialects: list[str], rows: int, runs: int) -> None:
    task = asyncio.current_task()
    assert task is not None
    # SIGTERM cancels the run like Ctrl-C does, so the temporary file and database are removed.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    for dialect in dialects:
        print(f"{dialect}: loading {rows:,} workflows")
        opened = sqlite_store() if dialect == "sqlite" else postgres_store()
        async with opened as store:
            await load(store, rows)
            timings = await measure(store, rows, runs)
        report(dialect, rows, timings)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="workflows to load (1000000)")
    parser.add_argument(
        "--dialect", choices=("sqlite", "postgresql", "both"), default="both", help="(both)"
    )
    parser.add_argument("--runs", type=int, default=200, help="timed runs per query (200)")
    args = parser.parse_args(argv)
    if args.rows < PAGE * (DEEP_PAGES + 2) * 20:
        parser.error(
            f"--rows must be at least {PAGE * (DEEP_PAGES + 2) * 20:,} (for the deep page)"
        )
    if args.runs < 1:
        parser.error("--runs must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    dialects = ["sqlite", "postgresql"] if args.dialect == "both" else [args.dialect]
    started = time.monotonic()
    try:
        asyncio.run(run(dialects, args.rows, args.runs))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\ninterrupted", flush=True)
        return 130
    except Exception as exc:  # noqa: BLE001 - reported, then exit 1
        print(f"\nerror: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    print(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
