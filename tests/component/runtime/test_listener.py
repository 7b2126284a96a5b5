"""``runtime.listener.stop_accepting``: a server closed while a client connects leaves no accepted
socket behind (CPython gh-109564), whichever loop iteration the close lands in."""

from __future__ import annotations

import asyncio
import gc
import socket
import warnings

import pytest

from runtime.listener import stop_accepting


async def _close_after_a_connect(yields: int) -> int:
    """Serve, let a client connect and leave, close the server ``yields`` loop iterations
    later (the stop racing the accept), and return the port that was served."""

    async def handler(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    # The kernel completes the connection (listen backlog) before the loop accepts it.
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    for _ in range(yields):
        await asyncio.sleep(0)
    await stop_accepting(server.sockets)
    server.close()
    await server.wait_closed()
    return port


@pytest.mark.parametrize("yields", range(5))
async def test_a_close_racing_an_accept_strands_no_socket(yields: int) -> None:
    gc.collect()  # earlier tests' garbage is not this test's business
    port = await _close_after_a_connect(yields)
    await asyncio.sleep(0.05)  # the accepted connection's handler runs and closes it
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    stranded = [w for w in caught if f"'127.0.0.1', {port})" in str(w.message)]
    assert stranded == []
