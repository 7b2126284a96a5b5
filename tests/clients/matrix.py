"""The compatibility matrix: which DBOS client (language x version) passes which feature.

Owns the features (``FEATURES``), the committed results (``RESULTS``,
``tests/clients/results.json``) and their rendering into the README, between ``START`` and
``END``. Nothing here is written by hand:

1. Conformance tests marked ``@pytest.mark.compat("<feature>")`` record how they ended for their
   client (the ``client`` parameter, the default Python harness otherwise): the hooks of
   ``tests/clients/compat_plugin.py`` call ``record`` and, at the end of the session,
   ``write_run`` folds them into ``RUN_RESULTS`` (``test-output/client-results.json``, kept
   across runs). A test that proved the client lacks the feature (Baton answered 501 naming it)
   says so with ``record_property("compat", "unsupported")``.
2. ``python -m tests.clients.matrix --merge`` folds that run into ``RESULTS`` and rewrites the
   README's table; ``python -m tests.clients.matrix`` only rewrites the table; ``--check`` exits 1
   when the README's table is not what ``RESULTS`` renders (the unit test
   ``tests/unit/clients/test_matrix.py`` does the same, so the two cannot drift).

The rows are ``tests.clients.catalog.ALL``, which ``streams.dbos_clients.TESTED`` mirrors (the
executors view warns about any other client).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from tests.clients.catalog import ALL, PYTHON_2_31
from tests.clients.client import REPO_ROOT

Outcome = Literal["passed", "failed", "unsupported"]
Results = dict[str, dict[str, Outcome]]
"""Client label -> feature -> outcome."""

FEATURES: dict[str, str] = {
    "connect": "Connects, listed",
    "recovery": "Recovery (SIGKILL)",
    "graceful": "Recovery (SIGTERM)",
    "child": "Parent + child recovery",
    "capture": "Lists, detail, steps",
    "cancel_resume": "Cancel, resume",
    "fork": "Fork from a step",
    "restart": "Restart",
    "rewind": "Rewind",
    "delete": "Delete",
    "bulk": "Bulk cancel",
}
"""Each feature's key (the ``compat`` marker's argument) and its column, in the table's order."""

OUTCOMES: tuple[Outcome, ...] = ("passed", "failed", "unsupported")
CELLS: dict[str, str] = {
    "passed": "✅",
    "failed": "❌",
    "unsupported": "501",
    "": "·",
}
LEGEND = (
    "✅ passes its conformance test · ❌ fails it · 501: the client lacks the verb, and Baton "
    "answers at once with HTTP 501 naming the client and version · `·` not run for this client"
)
LANGUAGES = {"python": "Python", "typescript": "TypeScript", "go": "Go", "java": "Java"}
DEFAULT_LABEL = PYTHON_2_31.label
"""The client of a test without a ``client`` parameter (the harness's default)."""

RESULTS = Path(__file__).resolve().parent / "results.json"
RUN_RESULTS = REPO_ROOT / "test-output" / "client-results.json"
README = REPO_ROOT / "README.md"
START = "<!-- compatibility-matrix:start (python -m tests.clients.matrix) -->"
END = "<!-- compatibility-matrix:end -->"


def load(path: Path) -> Results:
    """Results from a JSON file (an absent file: none).

    Raises:
        ValueError: a client, feature or outcome the matrix does not know.
    """
    if not path.exists():
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    labels = {client.label for client in ALL}
    results: Results = {}
    for label, features in raw.items():
        if label not in labels:
            raise ValueError(f"{path}: unknown client {label!r} (tests/clients/catalog.py)")
        for feature, outcome in features.items():
            if feature not in FEATURES or outcome not in OUTCOMES:
                raise ValueError(f"{path}: {label}: bad entry {feature!r}: {outcome!r}")
        results[label] = dict(features)
    return results


def save(results: Mapping[str, Mapping[str, Outcome]], path: Path) -> None:
    ordered = {
        client.label: {f: results[client.label][f] for f in FEATURES if f in results[client.label]}
        for client in ALL
        if client.label in results
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(ordered, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def merge(base: Results, run: Results) -> Results:
    """``base`` with every outcome of ``run`` taking the place of its own."""
    merged = {label: dict(features) for label, features in base.items()}
    for label, features in run.items():
        merged.setdefault(label, {}).update(features)
    return merged


def record(run: Results, label: str, feature: str, outcome: Outcome) -> None:
    """Note one test's outcome; a failure of one of a feature's tests fails the feature.

    Raises:
        ValueError: an unknown feature (the marker's argument must be a key of ``FEATURES``).
    """
    if feature not in FEATURES:
        raise ValueError(f"unknown compat feature {feature!r}; known: {', '.join(FEATURES)}")
    features = run.setdefault(label, {})
    if features.get(feature) != "failed":
        features[feature] = outcome


def write_run(run: Results, path: Path = RUN_RESULTS) -> None:
    """Fold a session's outcomes into the run file (earlier sessions' other cells stay)."""
    if run:
        save(merge(load(path), run), path)


def render(results: Mapping[str, Mapping[str, Outcome]]) -> str:
    """The Markdown table (and its legend) of ``results``."""
    header = ["Client", "Version", *FEATURES.values()]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for client in ALL:
        outcomes = results.get(client.label, {})
        cells = [CELLS[outcomes.get(feature, "")] for feature in FEATURES]
        language = LANGUAGES[client.language]
        if client.connector:
            language += " via `baton-connector`"
        lines.append("| " + " | ".join([language, f"`{client.sdk_version}`", *cells]) + " |")
    return "\n".join([*lines, "", LEGEND])


def with_table(readme: str, table: str) -> str:
    """``readme`` with the text between ``START`` and ``END`` replaced by ``table``.

    Raises:
        ValueError: the markers are missing or out of order.
    """
    start, end = readme.find(START), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README.md needs the markers {START!r} and {END!r}, in that order")
    return readme[: start + len(START)] + "\n" + table + "\n" + readme[end:]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.clients.matrix", description=__doc__)
    parser.add_argument(
        "--merge",
        nargs="?",
        const=RUN_RESULTS,
        type=Path,
        help=f"first fold a run's results into {RESULTS.name} (default {RUN_RESULTS})",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is stale")
    args = parser.parse_args(argv)
    results = load(RESULTS)
    if args.merge is not None:
        results = merge(results, load(args.merge))
        save(results, RESULTS)
    readme = README.read_text(encoding="utf-8")
    updated = with_table(readme, render(results))
    if args.check:
        if updated != readme:
            print("README.md's compatibility matrix is stale: python -m tests.clients.matrix")
            return 1
        return 0
    README.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
