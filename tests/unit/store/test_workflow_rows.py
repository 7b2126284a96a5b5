"""The workflows table mirrors the record: the model's columns (declared by hand, as the migrations
are) agree with ``WorkflowStatus``'s fields in name, type and nullability, and a record's values
are fitted to their columns."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, get_type_hints

from sqlalchemy import BigInteger, Boolean, String, Table, Text

from store.models import StepRow, WorkflowRow
from store.workflow_rows import NOT_COLUMNS, RECORD_COLUMNS, record_values
from streams.bounds import bound_of
from streams.ids import AppName, WorkflowId
from streams.records import StepInfo, WorkflowStatus

WORKFLOWS: Table = WorkflowRow.__table__  # type: ignore[assignment]
VERSION_COLUMNS = {
    "input_updated_at_ms",
    "input_observed_at_ms",
    "output_updated_at_ms",
    "output_observed_at_ms",
}
"""The columns of the latest-wins merge, which no record field holds."""

NOT_NULL_STAND_INS = {"created_at_ms"}
"""Optional in the record, never NULL in the table (0 stands for "not reported")."""


def test_every_record_field_has_a_column() -> None:
    workflow_columns = {c.name for c in WorkflowRow.__table__.c} | {"has_input", "has_output"}
    step_columns = {c.name for c in StepRow.__table__.c}
    assert {f.name for f in fields(WorkflowStatus)} <= workflow_columns
    assert {f.name for f in fields(StepInfo)} <= step_columns


def test_the_columns_are_the_record_fields_and_the_version_columns() -> None:
    columns = [c.name for c in WORKFLOWS.c]
    assert set(columns) == set(RECORD_COLUMNS) | VERSION_COLUMNS
    assert not set(RECORD_COLUMNS) & VERSION_COLUMNS
    assert {"has_input", "has_output"} == NOT_COLUMNS
    for name in NOT_COLUMNS:  # read back from the version columns
        assert isinstance(getattr(WorkflowRow, name), property)


def _column_types(kind: Any) -> tuple[type[Any], ...]:
    if kind in (str, AppName, WorkflowId, str | None):
        return (String, Text)
    if kind in (int, int | None):
        return (BigInteger,)
    assert kind is bool, kind
    return (Boolean,)


def test_each_column_has_its_fields_type_and_nullability() -> None:
    hints = get_type_hints(WorkflowStatus)
    for name in RECORD_COLUMNS:
        column = WORKFLOWS.c[name]
        kind = hints[name]
        assert isinstance(column.type, _column_types(kind)), name
        optional = kind in (str | None, int | None)
        assert column.nullable == (optional and name not in NOT_NULL_STAND_INS), name


def test_a_bounded_field_fits_its_column_without_a_further_cut() -> None:
    for field in fields(WorkflowStatus):
        bound = bound_of(field)
        if bound is None:
            continue
        column_type = WORKFLOWS.c[field.name].type
        length = getattr(column_type, "length", None)
        assert length is None or bound.max_chars <= length, field.name


def test_record_values_fit_each_column() -> None:
    record = WorkflowStatus(
        app=AppName("orders"),
        workflow_id=WorkflowId("wf-1"),
        status="S" * 100,
        observed_at_ms=2**70,
        name="n" * 600,
        queue_name="q" * 300,
        priority=-(2**70),
        forked_from="f" * 600,
        attributes="a" * 10_000,
        was_forked_from=True,
    )
    values = record_values(record)
    assert set(values) == set(RECORD_COLUMNS)
    assert values["status"] == "S" * 64
    assert values["name"] == "n" * 512
    assert values["queue_name"] == "q" * 256
    assert values["forked_from"] == "f" * 512
    assert values["attributes"] == "a" * 10_000  # a text column: no length
    assert (values["observed_at_ms"], values["priority"]) == (2**63 - 1, -(2**63))
    assert values["created_at_ms"] == 0  # not reported: the sort key is never NULL
    assert values["was_forked_from"] is True
