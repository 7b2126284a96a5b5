"""A workflow's row: how the ``workflows`` table mirrors the record, and how rows are addressed.

The table has a column per ``WorkflowStatus`` field (``RECORD_COLUMNS``, derived from the record;
``has_input`` and ``has_output`` are not columns: they read as whether the ``input_``/``output_``
version columns are set), plus the version columns of the latest-wins merge
(``store.workflow_projection``). ``record_values`` fits a record's fields to their columns (text
cut to the column's length, integers clamped to 64 bits); ``status_from_row`` reads a row back as
a record. The columns themselves are declared in ``store.models`` and stay explicit, as the
migrations do; a test checks that they agree with the record's fields.

Shared by the projection (the worker's writes), the queries (the console's reads) and the app
settings (payload privacy): ``chunks`` and ``with_ids`` address many rows by workflow id, ``int64``
keeps an integer within ``BIGINT``, ``lock_app`` serialises the writers of one app's rows, and
``PAYLOAD_COLUMNS`` name what payload privacy keeps empty.

Must not import Faust, Kafka, the gateway or the console.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from dataclasses import fields
from typing import Any, TypeVar, TypeVarTuple

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Column,
    Select,
    String,
    Table,
    false,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import INT64_MAX, INT64_MIN, WorkflowCountRow, WorkflowRow
from streams.records import WorkflowStatus

CHUNK_ROWS = 500
"""Rows per statement: keeps ``IN`` lists and bound parameters far below both databases' limits."""

NOT_COLUMNS = frozenset({"has_input", "has_output"})
"""Record fields the row holds as its version columns being set (``WorkflowRow`` properties)."""

RECORD_COLUMNS = tuple(f.name for f in fields(WorkflowStatus) if f.name not in NOT_COLUMNS)
"""The ``workflows`` columns that hold a record field of the same name, in the record's order."""

INPUT_COLUMNS = ("input", "input_updated_at_ms", "input_observed_at_ms")
"""A workflow's input and the version of the record it came from (latest-wins on their own)."""
OUTPUT_COLUMNS = ("output", "error", "output_updated_at_ms", "output_observed_at_ms")
"""A workflow's output and error, and the version of the record they came from."""
PAYLOAD_COLUMNS = INPUT_COLUMNS + OUTPUT_COLUMNS
"""What a workflow row holds of its payloads: empty (NULL) under payload privacy."""
STEP_PAYLOAD_COLUMNS = ("output", "error")
"""What a step row holds of its payloads: empty (NULL) under payload privacy."""

_WORKFLOWS: Table = WorkflowRow.__table__  # type: ignore[assignment]
_COUNTS: Table = WorkflowCountRow.__table__  # type: ignore[assignment]
_LOCK_CLASS = 0x62746E77  # "btnw": PostgreSQL advisory lock class of the workflow projection
_RECORD_FIELDS = tuple(f.name for f in fields(WorkflowStatus))
_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")


def int64(value: int | None) -> int | None:
    """``value`` clamped to a 64-bit integer (``BIGINT``), passing ``None`` through."""
    return None if value is None else min(max(value, INT64_MIN), INT64_MAX)


def cut(text: str | None, limit: int) -> str | None:
    """``text`` cut to ``limit`` characters (a column's length), passing ``None`` through."""
    return text if text is None or len(text) <= limit else text[:limit]


def _fitter(column: Column[Any]) -> Callable[[Any], Any]:
    """How a value is fitted to a column: by the column's declared type."""
    length = getattr(column.type, "length", None)
    if isinstance(column.type, String) and length is not None:
        return lambda text: cut(text, length)
    if isinstance(column.type, BigInteger):
        return int64
    return lambda value: value


_FIT = tuple((name, _fitter(_WORKFLOWS.c[name])) for name in RECORD_COLUMNS)


def record_values(record: WorkflowStatus) -> dict[str, Any]:
    """The record's fields as column values, each fitted to its column.

    Executor-supplied labels are cut to their column's length and integers clamped to 64 bits:
    one absurd value must not fail the worker's whole batch. An unreported ``created_at_ms``
    (the sort key of every list, never NULL) is stored as 0.
    """
    values = {name: fit(getattr(record, name)) for name, fit in _FIT}
    values["created_at_ms"] = values["created_at_ms"] or 0
    return values


def status_from_row(row: WorkflowRow) -> WorkflowStatus:
    """The row as a record, e.g. to serve it or to compare it with a fold of the records.

    A ``created_at_ms`` of 0 (not reported) becomes ``None`` again.
    """
    # The row has a column (or, for has_input/has_output, a property) per record field.
    values = {name: getattr(row, name) for name in _RECORD_FIELDS}
    values["created_at_ms"] = row.created_at_ms or None
    return WorkflowStatus(**values)


def chunks(items: list[_T]) -> Iterable[list[_T]]:
    """``items`` in lists of at most ``CHUNK_ROWS``."""
    for start in range(0, len(items), CHUNK_ROWS):
        yield items[start : start + CHUNK_ROWS]


def with_ids(session: AsyncSession, stmt: Select[*_Ts], workflow_ids: list[str]) -> Select[*_Ts]:
    """``stmt`` narrowed to these workflow ids (of the app it already selects)."""
    column = _WORKFLOWS.c.workflow_id
    if session.get_bind().dialect.name != "postgresql":
        return stmt.where(column.in_(workflow_ids))
    # A join on the ids, not ``IN``: on a young table whose statistics are not gathered yet,
    # PostgreSQL reads the whole app through another index and filters (0.4 s at 20,000 rows)
    # instead of probing the primary key once per id.
    ids = func.unnest(literal(workflow_ids, ARRAY(String()))).table_valued("workflow_id")
    ids = ids.render_derived()
    return stmt.join(ids, column == ids.c.workflow_id)


async def lock_app(session: AsyncSession, app: str) -> None:
    """Serialise the writers of one app's workflow rows until the transaction ends.

    The projection reads the batch's stored rows before it writes them, and the counters move by
    the difference: a concurrent writer in between (two workers while a partition changes hands)
    would skew them; and switching payload privacy on must not interleave with a projection that
    read the setting before the switch. PostgreSQL: an advisory lock per app. SQLite: an empty
    ``UPDATE`` makes Python's sqlite3 open the transaction and SQLite take its one write lock
    (waiting up to the busy timeout) before the ``SELECT``, which would otherwise run outside any
    transaction.
    """
    match session.get_bind().dialect.name:
        case "postgresql":
            key = zlib.crc32(app.encode()) - 2**31  # int4, as the two-key lock takes
            await session.execute(select(func.pg_advisory_xact_lock(_LOCK_CLASS, key)))
        case _:
            await session.execute(update(_COUNTS).where(false()).values(n=_COUNTS.c.n))
