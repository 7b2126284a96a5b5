"""A role's shutdown that cannot hang: once asked to stop, a role process has a deadline, after
which it exits at once with ``EXIT_CODE`` and one log line.

Why: a role whose stop waits on something dead (the worker's Faust app flushing to a broker that
is gone) would otherwise wait forever; under ``baton up`` the supervisor SIGKILLs it after
``baton.role_processes.STOP_TIMEOUT_S``, but a child whose ``baton up`` was itself killed has no
one left to do that (``die_with_parent`` sends it SIGTERM, and that is all).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from typing import NoReturn

logger = logging.getLogger(__name__)

STOP_DEADLINE_S = 12.0
"""Below ``baton up``'s SIGKILL after 15 s: a supervised role gives up on its own first."""
EXIT_CODE = 70
"""``EX_SOFTWARE``: the stop did not finish (a clean stop exits 0)."""


class StopDeadline:
    """A timer, in a thread of its own so a blocked event loop cannot hold it up, that ends the
    process ``seconds`` after :meth:`arm` unless :meth:`disarm` comes first."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._timer: threading.Timer | None = None

    def arm(self) -> None:
        """Start the countdown (again signals change nothing: the first one counts)."""
        if self._timer is None:
            self._timer = threading.Timer(self.seconds, self._give_up)
            self._timer.daemon = True
            self._timer.start()

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _give_up(self) -> None:
        logger.error(
            "did not stop within %.0f s of being asked to; exiting now",
            self.seconds,
        )
        exit_at_once(EXIT_CODE)


def exit_at_once(code: int) -> NoReturn:
    """End the process now, with ``code``, once the logs and standard streams are flushed:
    without the interpreter's teardown, which frees every object left one by one (seconds, for
    a gateway that held thousands of sessions, on busy cores)."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
