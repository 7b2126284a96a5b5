"""A bare Faust agent on one of the worker's topics: the floor of a Faust worker's cost per record.

The Faust app is declared as ``baton worker`` declares it (``broker.faust_app.create_worker_app``:
the same settings, topics and tables, its own consumer group), with one agent that takes the
records in batches as Baton's agents do (``stream.take_events``) and does nothing with them. It
prints, as one JSON line, the records it took after its first batch, and the wall and CPU seconds
(of its whole process: Faust's consumer thread included) they took. ``bench/pipeline.py`` runs it
in a process of its own, between the bare aiokafka consumer and the worker.

    python -m bench.faust_floor --kafka HOST:PORT --prefix P. --kind liveness --records N
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from broker.faust_app import create_worker_app
from streams.topics import Topics

BATCH_MAX = 500
BATCH_WITHIN_S = 0.02
TIMEOUT_S = 600.0


async def floor(
    bootstrap: str, prefix: str, kind: str, total: int, datadir: Path
) -> dict[str, Any]:
    worker = create_worker_app(
        bootstrap=bootstrap,
        topics=Topics(prefix=prefix),
        datadir=datadir,
        app_id=f"{prefix}faust-floor",
    )
    source = worker.executor_events if kind == "liveness" else worker.workflow_events
    done = asyncio.Event()
    result: dict[str, Any] = {}

    async def count(stream: Any) -> None:
        seen = 0
        start: tuple[float, float, int] | None = None
        async for events in stream.take_events(BATCH_MAX, BATCH_WITHIN_S):
            seen += len(events)
            if start is None:
                start = (time.perf_counter(), time.process_time(), seen)
            if seen >= total and not done.is_set():
                result.update(
                    records=seen - start[2],
                    seconds=time.perf_counter() - start[0],
                    cpu_s=time.process_time() - start[1],
                )
                done.set()

    worker.app.agent(source, name="faust-floor")(count)
    await worker.app.start()
    try:
        await asyncio.wait_for(done.wait(), TIMEOUT_S)
    finally:
        await worker.app.stop()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--kafka", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--kind", choices=("liveness", "workflows"), required=True)
    parser.add_argument("--records", type=int, required=True)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="baton-faust-floor-") as tmp:
        result = asyncio.run(floor(args.kafka, args.prefix, args.kind, args.records, Path(tmp)))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
