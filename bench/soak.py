"""Soak benchmark: N simulated DBOS executors on ``baton up`` (embedded broker) for a while,
watching memory.

``baton up`` runs its embedded broker (Tansu, memory storage: what it stores is in its RSS),
worker, gateway and console; ``--executors`` simulated executors (``bench/swarm.py``) connect to
its gateway in one app and idle, answering capture polls and pinging as DBOS does. Every
``--every`` seconds it samples the RSS of the gateway, worker, console and broker, and at the end
prints the least-squares slope of each (MB/hour) over the steady part of the run (after
``--warmup`` minutes) and the broker's projected growth per day; then what each topic (and each
record type, and each kind of table entry) received over ``--traffic-seconds``, per day, and the
broker memory that makes by Tansu's measured cost per batch and per byte
(``bench/broker_idle.py``). The issue's targets: gateway, worker and broker memory flat at steady
state (1,000 executors), and the embedded broker growing <= 10 MB/day with 100 idle executors
(``--executors 100``).

Run from the repository root::

    .venv/bin/python bench/soak.py [--executors 1000] [--minutes 30] [--every 5]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's directory leads sys.path: put the repository root there instead.
if sys.path and Path(sys.path[0] or ".").resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)
elif str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402

from bench.fleet import APP, MB, Sampler, baton_up, client_processes, up_processes  # noqa: E402
from bench.gateway import Clients, record_kind, records_written  # noqa: E402
from bench.swarm import Spec  # noqa: E402

WATCHED = ("gateway", "worker", "console", "broker")
BROKER_TARGET_MB_PER_DAY = 10.0
TANSU_RSS_PER_BATCH = 550
"""Bytes of the embedded broker's RSS that one stored record batch costs, whatever its size
(``bench/broker_idle.py``, 2026-12-07: ~549 a batch + ~2.27 a byte of value; requests that
store nothing, such as fetches, offset commits and group heartbeats, cost nothing)."""
TANSU_RSS_PER_BYTE = 2.3
"""Bytes of its RSS that one byte of a record's key or value costs (framing and copies)."""


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) points, in MB per hour (0 with fewer than 2)."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return cov / var * 3600


def traffic_by_topic(bootstrap: str, seconds: float) -> dict[str, tuple[int, int]]:
    """Records and bytes (key + value) written to each topic of the broker over the next
    ``seconds``; executor events also by record type (``topic/type``)."""
    counts: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for message in records_written(bootstrap, seconds):
        size = len(message.value or b"") + len(message.key or b"")
        names = [message.topic]
        if message.topic.endswith("executor-events"):
            names.append(f"  {record_kind(message.value or b'')}")
        elif message.topic.endswith("-changelog"):
            names.append(f"  key kind {_entry_kind(message.key or b'')}")
        for name in names:
            counts[name] += 1
            sizes[name] += size
    return {name: (counts[name], sizes[name]) for name in counts}


def _entry_kind(key: bytes) -> str:
    """A table key's kind: the liveness table's ``{app} e|r {id}`` (``recovery.table``), else
    the key's first 20 bytes."""
    parts = key.split(b"\x1f")
    return parts[1].decode(errors="replace") if len(parts) == 3 else repr(key[:20])


def modelled_mb_per_day(records: int, size: int, seconds: float) -> float:
    """The broker's RSS growth that ``records`` records of ``size`` bytes in all over
    ``seconds`` make a day, one batch each (an upper bound on the batches)."""
    rss = records * TANSU_RSS_PER_BATCH + size * TANSU_RSS_PER_BYTE
    return rss / seconds * 86_400 / MB


def run(args: argparse.Namespace) -> int:
    n = args.executors
    load_start = os.getloadavg()
    with (
        tempfile.TemporaryDirectory(prefix="baton-soak-") as tmp,
        baton_up(Path(tmp) / "baton") as cluster,
    ):
        assert cluster.roles["up"].process is not None
        processes = up_processes(cluster.roles["up"].process.pid)
        clients = Clients()
        try:
            clients.start(cluster.conductor_url, [Spec(APP, cluster.create_key(APP), 0, n)], 1)
            sampler = Sampler(
                {**processes, **client_processes(clients)},
                clients,
                f"http://127.0.0.1:{cluster.gateway_port}",
                every_s=args.every,
                verbose=False,
            )
            connect_s = clients.wait_connected(n, timeout_s=120 + n / 10)
            print(f"{clients.total()} executors connected in {connect_s:.1f} s", flush=True)
            sampler.start()
            start = time.monotonic()
            end = start + args.minutes * 60
            next_print = start
            while (now := time.monotonic()) < end:
                if now >= next_print and sampler.samples:
                    _, rss, _ = sampler.samples[-1]
                    shown = " ".join(f"{k}={rss[k]:.1f}" for k in WATCHED if k in rss)
                    print(
                        f"  [{(now - start) / 60:5.1f} min] RSS MB {shown} | load "
                        f"{os.getloadavg()[0]:.1f} | {clients.total()} connected",
                        flush=True,
                    )
                    next_print = now + 60
                time.sleep(1)
            sampler.stop()
            held = clients.total()
            traffic = traffic_by_topic(cluster.kafka_bootstrap, args.traffic_seconds)
        finally:
            clients.stop()
    warm = start + args.warmup * 60
    print(
        f"\n== soak: {n} executors, {args.minutes:.0f} min, samples every {args.every:.0f} s, "
        f"slope after the first {args.warmup:.0f} min =="
    )
    print(f"load average at start {load_start}, at end {os.getloadavg()}")
    print(f"executors connected at the end: {held} of {n}")
    ok = True
    broker_slope = 0.0
    for name in WATCHED:
        points = [
            (t - start, rss[name]) for t, rss, _ in sampler.samples if t >= warm and name in rss
        ]
        if not points:
            continue
        slope = slope_per_hour(points)
        if name == "broker":
            broker_slope = slope
        first, last = points[0][1], points[-1][1]
        line = (
            f"{name:<8} RSS {first:7.1f} -> {last:7.1f} MB, slope {slope:+8.2f} MB/h "
            f"({slope * 24:+8.1f} MB/day projected)"
        )
        if name == "broker" and n <= 100:
            met = slope * 24 <= BROKER_TARGET_MB_PER_DAY
            ok = ok and met
            verdict = "met" if met else "MISSED"
            line += f"  target <= {BROKER_TARGET_MB_PER_DAY:.0f} MB/day: {verdict}"
        print(line)
    print(
        f"broker traffic over {args.traffic_seconds:.0f} s (never expired: it all stays); "
        f"broker RSS modelled as {TANSU_RSS_PER_BATCH} B a record + {TANSU_RSS_PER_BYTE} B a byte "
        "(bench/broker_idle.py):"
    )
    seconds = args.traffic_seconds
    tops = [(n, c, s) for n, (c, s) in traffic.items() if not n.startswith(" ")]
    for name, (count, size) in sorted(traffic.items()):
        print(
            f"  {name:<50} {count:6d} records {size:9d} bytes = "
            f"{size / seconds * 86_400 / MB:8.1f} MB/day of data, "
            f"{modelled_mb_per_day(count, size, seconds):8.1f} MB/day of broker RSS"
        )
    records, size = sum(c for _, c, _ in tops), sum(s for _, _, s in tops)
    print(
        f"  all topics: {size / seconds * 86_400 / MB:.1f} MB/day of data, "
        f"{modelled_mb_per_day(records, size, seconds):.1f} MB/day of broker RSS modelled "
        f"(measured slope above: {broker_slope * 24:+.1f} MB/day)"
    )
    cpu = sampler.mean_cpu(warm)
    print("mean CPU (% of a core): " + ", ".join(f"{k} {v * 100:.1f}" for k, v in cpu.items()))
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--executors", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument(
        "--traffic-seconds", type=float, default=30.0, help="broker traffic window at the end"
    )
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="minutes left out of the slope (start-up)"
    )
    args = parser.parse_args(argv)
    if args.executors <= 0 or args.minutes <= 0 or args.every <= 0:
        parser.error("--executors, --minutes and --every are positive")
    if args.warmup >= args.minutes:
        parser.error("--warmup must be shorter than --minutes")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
