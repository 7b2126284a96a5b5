"""Readiness probes for processes Baton starts."""

from __future__ import annotations

import asyncio
import contextlib


async def accepts_tcp(host: str, port: int) -> bool:
    """Whether something accepts a TCP connection on ``host:port`` right now."""
    try:
        _, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True
