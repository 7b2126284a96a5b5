"""Direct access to DBOS system databases on the test PostgreSQL server.

The server is ``BATON_TEST_PG_URL`` (default ``postgresql://postgres@127.0.0.1:5432``): a URL
without a database name, where user ``postgres`` logs in without a password and a database ``test``
exists. ``deploy/local/postgres`` sets such a server up and prints its URL; ``make test`` and
``.ci/run`` export it. Every test and bench script reads the server from here.

Owns: creating and dropping a fresh system database per test, and reading DBOS's own tables
(``dbos.workflow_status``, ``dbos.operation_outputs``) so assertions do not depend on any
executor being alive. The only ``import psycopg`` of the DBOS test harness.

Imports nothing from Baton and nothing from pytest: bench scripts use it too.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

DEFAULT_PG_SERVER_URL = "postgresql://postgres@127.0.0.1:5432"
PG_SERVER_URL = (os.environ.get("BATON_TEST_PG_URL") or DEFAULT_PG_SERVER_URL).rstrip("/")
"""Test server (no database in the URL), trust auth as ``postgres``."""
ADMIN_DB_URL = f"{PG_SERVER_URL}/test"
"""Maintenance database used to create and drop per-test databases."""


def database_url(name: str) -> str:
    """URL of database ``name`` on the test server (what DBOS takes as system DB URL)."""
    return f"{PG_SERVER_URL}/{name}"


def unique_database_name(prefix: str = "baton_t") -> str:
    """A fresh, valid, lower-case database name."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def create_database(name: str) -> str:
    """Create an empty database ``name``; DBOS migrates it on first launch.

    Returns:
        The database URL.
    """
    with psycopg.connect(ADMIN_DB_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    logger.debug("created database %s", name)
    return database_url(name)


def drop_database(name: str) -> None:
    """Drop database ``name`` if it exists, disconnecting any session still using it."""
    with psycopg.connect(ADMIN_DB_URL, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
    logger.debug("dropped database %s", name)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowRow:
    """One ``dbos.workflow_status`` row, as far as recovery tests care."""

    workflow_id: str
    status: str
    """PENDING, ENQUEUED, SUCCESS, ERROR, CANCELLED, ..."""
    executor_id: str | None
    """Executor that most recently ran (or dequeued) the workflow."""
    application_version: str | None
    queue_name: str | None
    """Set to DBOS's internal queue when recovery re-enqueued a non-queued workflow."""
    recovery_attempts: int | None
    updated_at_epoch_ms: int | None


_WORKFLOW_COLUMNS = (
    "workflow_uuid, status, executor_id, application_version, queue_name,"
    " recovery_attempts, updated_at"
)


def _to_row(record: tuple[object, ...]) -> WorkflowRow:
    workflow_id, status, executor_id, version, queue, attempts, updated_at = record
    return WorkflowRow(
        workflow_id=str(workflow_id),
        status=str(status),
        executor_id=None if executor_id is None else str(executor_id),
        application_version=None if version is None else str(version),
        queue_name=None if queue is None else str(queue),
        recovery_attempts=None if attempts is None else int(str(attempts)),
        updated_at_epoch_ms=None if updated_at is None else int(str(updated_at)),
    )


def read_workflow(db_url: str, workflow_id: str) -> WorkflowRow | None:
    """Read ``workflow_id``'s status row, or ``None`` if absent (or not migrated yet)."""
    query = f"SELECT {_WORKFLOW_COLUMNS} FROM dbos.workflow_status WHERE workflow_uuid = %s"
    with psycopg.connect(db_url, autocommit=True) as conn:
        try:
            record = conn.execute(query, (workflow_id,)).fetchone()
        except psycopg.errors.UndefinedTable:
            return None
    return None if record is None else _to_row(record)


@contextmanager
def workflow_reader(db_url: str) -> Iterator[Callable[[str], WorkflowRow | None]]:
    """``read_workflow`` on one connection, kept open while the block runs: for polling every
    few milliseconds, where a connection per read costs more than the read (tens of ms on a
    loaded machine: a late observation, not a late workflow)."""
    query = f"SELECT {_WORKFLOW_COLUMNS} FROM dbos.workflow_status WHERE workflow_uuid = %s"
    with psycopg.connect(db_url, autocommit=True) as conn:

        def read(workflow_id: str) -> WorkflowRow | None:
            record = conn.execute(query, (workflow_id,)).fetchone()
            return None if record is None else _to_row(record)

        yield read


def read_workflows(db_url: str) -> list[WorkflowRow]:
    """All status rows, oldest first."""
    query = f"SELECT {_WORKFLOW_COLUMNS} FROM dbos.workflow_status ORDER BY created_at"
    with psycopg.connect(db_url, autocommit=True) as conn:
        return [_to_row(record) for record in conn.execute(query).fetchall()]


def recorded_step_ids(db_url: str, workflow_id: str) -> list[int]:
    """Function ids of the steps whose outputs DBOS checkpointed for ``workflow_id``.

    These are the steps recovery will *not* re-run.
    """
    query = (
        "SELECT function_id FROM dbos.operation_outputs"
        " WHERE workflow_uuid = %s ORDER BY function_id"
    )
    with psycopg.connect(db_url, autocommit=True) as conn:
        return [int(fid) for (fid,) in conn.execute(query, (workflow_id,)).fetchall()]
