"""Process-wide state that ``baton.cli.main`` sets, for tests that run it in process: the umask
(file-mode tests start from a shell's permissive one) and the root logger's handlers. Each is
restored after the block.

Imports nothing from Baton and nothing from pytest.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

SHELL_UMASK = 0o022
"""The usual umask of a user's shell: new files 0644, new directories 0755."""


@contextmanager
def umask(mask: int = SHELL_UMASK) -> Iterator[None]:
    """Run the block with ``mask`` as the umask; restore the previous one after."""
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def current_umask() -> int:
    """The process umask (reading it means setting it: it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def kept_logging() -> Iterator[None]:
    """Restore the root logger's handlers and level after the block (``main`` replaces them)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
