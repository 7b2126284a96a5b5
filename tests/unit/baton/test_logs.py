"""Logging set-up: the same warning repeated is one line and a count; INFO is never held back."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from baton.logs import RepeatFilter, configure_logging

T0 = 1_700_000_000.0


def record(
    message: str, *args: object, at: float, level: int = logging.ERROR, name: str = "aiokafka"
) -> logging.LogRecord:
    made = logging.LogRecord(name, level, __file__, 1, message, args, None)
    made.created = at
    return made


@pytest.fixture
def printed() -> Iterator[tuple[logging.Handler, io.StringIO]]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.addFilter(RepeatFilter(handler.handle, window_s=10))
    yield handler, out
    handler.close()


def lines(out: io.StringIO) -> list[str]:
    return out.getvalue().splitlines()


def test_a_repeated_error_is_printed_once_then_summarised_with_its_count(
    printed: tuple[logging.Handler, io.StringIO],
) -> None:
    handler, out = printed
    for i in range(100):  # ten a second for ten seconds
        handler.handle(
            record("Unable connect to node with id %s: %s", 111, "refused", at=T0 + i / 10)
        )
    handler.handle(record("Unable connect to node with id %s: %s", 111, "refused", at=T0 + 10.0))

    assert lines(out) == [
        "ERROR aiokafka Unable connect to node with id 111: refused",
        "ERROR aiokafka Unable connect to node with id 111: refused ... repeated 99 times in the "
        "last 10 s",
    ]


def test_a_failure_that_goes_on_gets_one_summary_per_window(
    printed: tuple[logging.Handler, io.StringIO],
) -> None:
    handler, out = printed
    for i in range(600):  # a minute of ten a second
        handler.handle(record("Unable to update metadata from %s", [111], at=T0 + i / 10))

    counts = [line.rsplit(" repeated ", 1)[-1] for line in lines(out)[1:]]
    # The record that prints a summary is the first of the next window.
    assert counts == ["99 times in the last 10 s"] + ["100 times in the last 10 s"] * 4


def test_the_template_not_the_arguments_makes_a_repeat(
    printed: tuple[logging.Handler, io.StringIO],
) -> None:
    handler, out = printed
    handler.handle(record("fetch from %s failed", "node-1", at=T0))
    handler.handle(record("fetch from %s failed", "node-2", at=T0 + 1))
    handler.handle(record("another failure", at=T0 + 2))
    handler.handle(record("fetch from %s failed", "node-1", at=T0 + 3, name="other.logger"))
    handler.handle(record("fetch from %s failed", "node-1", at=T0 + 4, level=logging.WARNING))

    assert [line.split(" ", 2)[2] for line in lines(out)] == [
        "fetch from node-1 failed",
        "another failure",
        "fetch from node-1 failed",
        "fetch from node-1 failed",
    ]


def test_info_lines_are_never_held_back(printed: tuple[logging.Handler, io.StringIO]) -> None:
    handler, out = printed
    for i in range(5):
        handler.handle(record("executor %s connected", f"e{i}", at=T0, level=logging.INFO))

    assert len(lines(out)) == 5


def test_the_summary_is_printed_by_the_next_record_after_the_window(
    printed: tuple[logging.Handler, io.StringIO],
) -> None:
    handler, out = printed
    handler.handle(record("broker gone", at=T0))
    handler.handle(record("broker gone", at=T0 + 1))
    handler.handle(record("broker gone", at=T0 + 2))
    handler.handle(record("worker stopped", at=T0 + 30, level=logging.INFO, name="baton"))

    assert lines(out)[1:] == [
        "ERROR aiokafka broker gone ... repeated 2 times in the last 30 s",
        "INFO baton worker stopped",
    ]


def test_configure_logging_installs_the_filter_and_quiets_alembic(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO", role="worker")
        (handler,) = root.handlers
        for i in range(50):
            handler.handle(record("Unable connect to node %s", 111, at=T0 + i))
        assert logging.getLogger("alembic").getEffectiveLevel() == logging.WARNING
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)

    printed = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [p["event"] for p in printed] == [
        "Unable connect to node 111",
        "Unable connect to node 111 ... repeated 29 times in the last 30 s",
    ]
    assert printed[1]["repeated"] == 29
    assert printed[1]["role"] == "worker"
