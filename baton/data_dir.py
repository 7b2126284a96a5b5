"""The data directory (``--data-dir``, default ``./.baton``): private to the user running Baton.

It holds the SQLite store (workflow inputs and outputs, hashes of keys and tokens), the embedded
broker's log and the worker's Faust tables. ``prepare_data_dir`` creates it owner-only (0700), and
tightens a directory and Baton's files in it that an older Baton left open to other users (0755
and 0644 before), saying so once: afterwards there is nothing left to tighten. Files created later
are owner-only through the process umask (``runtime.private_files``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from runtime.private_files import private_dir, tighten

logger = logging.getLogger(__name__)

BATON_FILES = ("baton.db", "baton.db-wal", "baton.db-shm", "broker.log")
"""What Baton writes at the top of the data directory."""
WORKER_DIR = "worker"
"""The worker's Faust data directory, inside the data directory."""


def prepare_data_dir(path: Path) -> None:
    """Create the data directory owner-only, or make it and Baton's files in it so.

    Raises:
        OSError: it cannot be created or its mode changed (not its owner).
    """
    former = private_dir(path)
    tightened = [p for p in _baton_paths(path) if tighten(p) is not None]
    if former is None and not tightened:
        return
    logger.warning(
        "the data directory %s%s and %d of Baton's files in it were open to other users: made "
        "them private to their owner",
        path,
        "" if former is None else f" (mode {former:03o})",
        len(tightened),
        extra={"data_dir": str(path), "tightened": len(tightened) + (former is not None)},
    )


def _baton_paths(path: Path) -> list[Path]:
    """Baton's files at the top of ``path`` and everything in its worker directory (symbolic
    links aside: what they point at is not Baton's to change)."""
    found = [path / name for name in BATON_FILES]
    for root, _, files in os.walk(path / WORKER_DIR):
        found.append(Path(root))
        found.extend(Path(root) / name for name in files)
    return [p for p in found if not p.is_symlink()]
