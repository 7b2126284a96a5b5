"""Owner-only files and directories: the modes of what Baton writes under its data directory.

The data directory holds the SQLite store (workflow inputs and outputs, hashes of keys and
tokens), the embedded broker's log and the worker's tables: nothing another user of the machine
should read. Baton's processes run with ``PRIVATE_UMASK`` (set once, by the CLI), so whatever they
or their libraries create is owner-only; these functions also give the paths Baton knows explicit
modes, and tighten those that an older Baton (or a hand) left open. Imports nothing of Baton's.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
"""Nothing a Baton process creates is readable or writable by group or others."""
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_OTHERS = 0o077


def use_private_umask() -> int:
    """Make every file and directory this process (and its children) creates owner-only.

    Returns:
        The umask it replaces.
    """
    return os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> int | None:
    """Create ``path`` (and missing parents) owner-only, or make an existing directory so.

    Returns:
        The mode it had if it was open to group or others and is tightened now, else None.
    """
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    return tighten(path)


def private_file(path: Path) -> int | None:
    """Create an empty ``path`` owner-only if it is missing (never truncating one), or make an
    existing file so.

    Returns:
        The mode it had if it was open to group or others and is tightened now, else None.
    """
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT, PRIVATE_FILE_MODE))
    return tighten(path)


def tighten(path: Path) -> int | None:
    """Take group's and others' permissions off ``path``, if it exists (the owner's stay).

    Returns:
        The mode it had if it was open to group or others and is tightened now, else None.
    """
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None
    if not mode & _OTHERS:
        return None
    path.chmod(mode & ~_OTHERS)
    return mode
