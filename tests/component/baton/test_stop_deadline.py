"""A role process asked to stop cannot hang forever (``runtime.stop_deadline``): a role whose stop
never finishes exits ``EXIT_CODE`` with one log line once the deadline passes, and a role that
stops in time exits 0 without that line. Real processes, real signals."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from runtime.stop_deadline import EXIT_CODE

ROLE = """
import asyncio, logging, sys
from baton.cli import run_until_signal

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

async def role(stop: asyncio.Event) -> None:
    print("ready", flush=True)
    await stop.wait()
    if sys.argv[1] == "hang":
        await asyncio.Event().wait()  # a stop waiting on something that never answers

sys.exit(run_until_signal(role, stop_deadline_s=1.0))
"""


def run_and_stop(mode: str) -> tuple[int, float, str]:
    """Start the role, SIGTERM it once ready; its exit code, seconds from the signal to its exit,
    and its output."""
    with subprocess.Popen(
        [sys.executable, "-c", ROLE, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
            signalled = time.monotonic()
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
            return code, time.monotonic() - signalled, process.stdout.read()
        finally:
            if process.poll() is None:
                process.kill()


def test_a_role_whose_stop_hangs_exits_at_the_deadline() -> None:
    code, took_s, output = run_and_stop("hang")
    assert code == EXIT_CODE, output
    assert 1.0 <= took_s < 10, took_s
    assert "did not stop within 1 s of being asked to; exiting now" in output


def test_a_role_that_stops_in_time_exits_zero_without_the_line() -> None:
    code, _, output = run_and_stop("clean")
    assert code == 0, output  # the deadline's exit is EXIT_CODE
    assert "did not stop" not in output
