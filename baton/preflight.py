"""Start-up checks of what a user can get wrong on this machine: a taken port, a data directory
that cannot be written.

Run by the composition root before anything starts, so that the user reads one line naming the
cause and the fix (``StartupError``) instead of a role's traceback half-way through start-up.
The servers' own binds stay the final word: a port taken between the check and the bind still
fails there.
"""

from __future__ import annotations

import errno
import os
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from baton.data_dir import prepare_data_dir
from streams.exceptions import DataDirUnwritable, PortInUse


@dataclass(frozen=True, slots=True, kw_only=True)
class Listener:
    """An address a role will listen on, and how the user chooses it."""

    host: str
    port: int
    flag: str
    """The command-line flag that sets the port, e.g. ``--console-port``."""
    variable: str
    """The environment variable that sets it, e.g. ``BATON_CONSOLE_PORT``."""
    what: str
    """What listens there, e.g. ``the console``."""

    def in_use(self) -> PortInUse:
        """The error for this port being taken."""
        return PortInUse(
            self.host,
            self.port,
            what=self.what,
            fix=f"stop the program listening there, or give {self.what} another port with "
            f"{self.flag} PORT (or {self.variable})",
        )


def check_port_free(listener: Listener) -> None:
    """Fail if ``listener``'s port cannot be bound right now.

    Binds with ``SO_REUSEADDR``, as the servers do, so a port in ``TIME_WAIT`` counts as free.
    Port 0 (any free port) always passes.

    Raises:
        PortInUse: another socket listens on the port.
    """
    if listener.port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((listener.host, listener.port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise listener.in_use() from exc
            raise


@contextmanager
def bind_errors_as_port_in_use(listener: Listener) -> Iterator[None]:
    """Turn a server's ``EADDRINUSE`` on ``listener``'s port into ``PortInUse``."""
    try:
        yield
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise listener.in_use() from exc
        raise


def check_data_dir(path: Path) -> None:
    """Create the data directory if needed (private: ``baton.data_dir``) and check that a file
    can be written in it.

    Raises:
        DataDirUnwritable: it cannot be created or written (names the reason).
    """
    try:
        prepare_data_dir(path)
        fd, probe = tempfile.mkstemp(prefix=".baton-probe-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise DataDirUnwritable(
            str(path),
            exc.strerror or str(exc),
            fix="pass --data-dir with a directory Baton may write (or set BATON_DATA_DIR)",
        ) from exc
