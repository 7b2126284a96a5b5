"""The pytest plugin (``-p tests.clients.compat_plugin`` in pyproject's addopts) that records, per
client, how the tests marked ``compat`` ended, and folds them into ``tests.clients.matrix``'s run
file at the end of the session. Under pytest-xdist each worker hands its outcomes to the controller,
which folds them all and writes once: one worker's pass never overwrites another's failure."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests.clients import matrix
from tests.clients.client import Client

_RUN: matrix.Results = {}
"""This session's outcomes of the ``compat`` tests (a worker's own, or every worker's folded on
the controller), written at its end."""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Record a ``compat`` test's outcome for its client (setup and call; a skip is no outcome)."""
    report = yield
    marker = item.get_closest_marker("compat")
    if marker is None or report.when == "teardown" or report.skipped:
        return report
    if report.when == "setup" and report.passed:
        return report
    callspec = getattr(item, "callspec", None)
    client = None if callspec is None else callspec.params.get("client")
    label = client.label if isinstance(client, Client) else matrix.DEFAULT_LABEL
    said = dict(item.user_properties).get("compat")
    result: matrix.Outcome = "failed" if report.failed else "passed"
    if result == "passed" and said == "unsupported":
        result = "unsupported"
    matrix.record(_RUN, label, marker.args[0], result)
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the run's outcomes; an xdist worker hands its own to the controller instead, which
    folds every worker's (``pytest_testnodedown``) so one worker's failure is not overwritten by
    another's pass."""
    workeroutput: dict[str, object] | None = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["compat"] = _RUN
        return
    matrix.write_run(_RUN)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """Fold a finished xdist worker's outcomes into the controller's (``matrix.record`` keeps a
    failure)."""
    run: matrix.Results = getattr(node, "workeroutput", {}).get("compat", {})
    for label, features in run.items():
        for feature, outcome in features.items():
            matrix.record(_RUN, label, feature, outcome)
