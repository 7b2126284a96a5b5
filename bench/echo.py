"""A bare ``websockets`` echo server: the baseline of ``bench/gateway.py``.

Same transport settings as the gateway where they change the cost (no compression, no size
limit); everything else websockets' defaults. Prints ``listening PORT`` once it serves.

    python -m bench.echo [--port 0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed


async def echo(ws: ServerConnection) -> None:
    with contextlib.suppress(ConnectionClosed):  # the benchmark's clients drop their sockets
        async for message in ws:
            await ws.send(message)


async def main_async(port: int) -> None:
    async with serve(echo, "127.0.0.1", port, compression=None, max_size=None) as server:
        bound = server.sockets[0].getsockname()[1]
        sys.stdout.write(f"listening {bound}\n")
        sys.stdout.flush()
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="bare websockets echo server (baseline)")
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(main_async(parser.parse_args(argv).port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
