"""Closing a TCP listener without stranding the connections it has just accepted.

asyncio's selector loop accepts in the listening socket's reader callback, then builds each
accepted connection's transport in a task, whose first step runs an iteration later. A
``Server.close()`` in between (a stop while a client connects) makes that transport's
``Server._attach()`` fail its assertion; asyncio drops the error (it logs it in debug mode only)
and the accepted socket stays open until the garbage collector finds the half-built transport:
an "unclosed transport" ``ResourceWarning`` then, and a file descriptor held until that moment
(CPython gh-109564, open in 3.11 to 3.14). :func:`stop_accepting` closes that window; a server's
stop calls it just before ``close()``.

Imports nothing of Baton's.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable


async def stop_accepting(sockets: Iterable[socket.socket]) -> None:
    """Stop accepting on a server's listening ``sockets`` and let the connections already
    accepted get their transports, so that the server's ``close()`` that follows finds them
    attached (it then waits for them, and the server answers them as a stopping server does).

    Connections still in the listen backlog are not accepted: closing the socket resets them.
    On a loop other than the selector loop this does nothing (the race is in its accept path).

    Args:
        sockets: the server's listening sockets (``Server.sockets``), still open.
    """
    loop = asyncio.get_running_loop()
    if not isinstance(loop, asyncio.SelectorEventLoop):
        return
    for sock in sockets:
        # Also cancels an accept already queued for this iteration (the reader's handle).
        loop.remove_reader(sock.fileno())
    # The accepts already made queued their transport-building steps before this one: they run
    # first, each attaching its transport to the server.
    await asyncio.sleep(0)
