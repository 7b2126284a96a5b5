"""The README's compatibility matrix is what the committed conformance results render, and the
executors view's tested clients are the matrix's rows (``tests.clients.matrix``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.dbos_clients import TESTED
from tests.clients import matrix
from tests.clients.catalog import ALL


def test_the_readme_table_is_rendered_from_the_committed_results() -> None:
    readme = matrix.README.read_text(encoding="utf-8")
    expected = matrix.with_table(readme, matrix.render(matrix.load(matrix.RESULTS)))
    assert readme == expected, "README.md is stale: run python -m tests.clients.matrix"
    assert matrix.main(["--check"]) == 0


def test_the_tested_clients_are_the_matrix_rows() -> None:
    assert {(c.language, c.sdk_version) for c in ALL} == TESTED


def test_a_failure_of_any_test_of_a_feature_fails_it() -> None:
    run: matrix.Results = {}
    matrix.record(run, "go-v1.6.0", "fork", "passed")
    matrix.record(run, "go-v1.6.0", "fork", "failed")
    matrix.record(run, "go-v1.6.0", "fork", "passed")
    matrix.record(run, "java-1.1.0-m6", "rewind", "unsupported")
    assert run == {"go-v1.6.0": {"fork": "failed"}, "java-1.1.0-m6": {"rewind": "unsupported"}}
    with pytest.raises(ValueError, match="unknown compat feature 'teleport'"):
        matrix.record(run, "go-v1.6.0", "teleport", "passed")


def test_a_run_is_folded_into_the_earlier_results(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    matrix.write_run({"go-v1.6.0": {"fork": "passed", "delete": "failed"}}, path)
    matrix.write_run(
        {"go-v1.6.0": {"delete": "passed"}, "python-3.2.0": {"rewind": "passed"}}, path
    )
    assert matrix.load(path) == {
        "python-3.2.0": {"rewind": "passed"},
        "go-v1.6.0": {"fork": "passed", "delete": "passed"},
    }


def test_rows_and_cells() -> None:
    table = matrix.render({"java-1.1.0-m6": {"rewind": "unsupported", "connect": "passed"}})
    java = next(line for line in table.splitlines() if line.startswith("| Java |"))
    cells = [cell.strip() for cell in java.strip("|").split("|")]
    columns = list(matrix.FEATURES)
    assert cells[1] == "`1.1.0-m6`"
    assert cells[2 + columns.index("connect")] == "✅"
    assert cells[2 + columns.index("rewind")] == "501"
    assert cells[2 + columns.index("fork")] == "·"
    assert len(table.splitlines()) == 2 + len(ALL) + 2


def test_bad_results_and_a_readme_without_markers_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"cobol-1.0": {"fork": "passed"}}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"unknown client 'cobol-1\.0'"):
        matrix.load(bad)
    bad.write_text('{"go-v1.6.0": {"fork": "maybe"}}', encoding="utf-8")
    with pytest.raises(ValueError, match="bad entry 'fork'"):
        matrix.load(bad)
    with pytest.raises(ValueError, match="needs the markers"):
        matrix.with_table("# no table here\n", "| x |")
