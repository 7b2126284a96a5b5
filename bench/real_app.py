"""A benchmark's app: Baton's roles as processes and real DBOS executors (``tests/dbos_app``, one
by default) connected to them, on a system database of their own that is dropped afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.baton_cluster import BatonCluster
from tests.conformance.scenario import ExecutorPool
from tests.dbos_app.harness import create_database, drop_database, unique_database_name


@contextmanager
def real_app(
    bootstrap: str,
    app: str,
    workdir: Path,
    *,
    executors: int = 1,
    database_prefix: str = "baton_t",
) -> Iterator[ExecutorPool]:
    """Yield ``app``'s pool once its ``executors`` are connected (``pool.started``; the roles
    are ``pool.cluster``, with their files under ``workdir``); stop everything on exit."""
    database = unique_database_name(database_prefix)
    system_db = create_database(database)
    try:
        with BatonCluster(bootstrap, workdir / "baton") as cluster:
            pool = ExecutorPool(cluster, app, system_db, workdir)
            try:
                pool.start_connected(executors)
                yield pool
            finally:
                pool.terminate_all()
    finally:
        drop_database(database)
