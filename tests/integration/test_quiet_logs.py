"""Quiet logs, measured on a real ``baton up``: a normal start prints a handful of lines, and a
broker that dies is a few lines, not a flood: one when it is lost, one when ``baton up`` has it
back, each role's readiness going and coming, and each Kafka failure once per role.

Before the repeat filter of ``baton.logs``, SIGKILLing the embedded broker made the roles' Kafka
clients print 1,172 lines in the next 10 s; a start printed 48 lines, 28 of them Alembic's plugin
set-up. After: 13 lines in those 10 s (each failure once per role), 7 lines until ready (and,
since the console has users, the first admin's one-time sign-in link: one warning).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import psutil
import pytest

from tests.baton_cluster import free_port
from tests.baton_up import FIRST_ADMIN_LINK
from tests.eventually import assert_eventually

pytestmark = [pytest.mark.integration, pytest.mark.alone]

START_LINES_MAX = 15
BROKER_DEATH_WINDOW_S = 10.0
BROKER_DEATH_LINES_MAX = 30
READY_TEXTS = ("worker ready", "console listening", "gateway ", "Baton is up")


@pytest.fixture
def baton_up(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """``baton up`` on a fresh data dir; its stderr (JSON lines, not a tty) goes to a file."""
    log = tmp_path / "stderr.log"
    with open(log, "wb") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "baton",
                "up",
                "--data-dir",
                str(tmp_path / "data"),
                "--gateway-port",
                str(free_port()),
                "--console-port",
                str(free_port()),
                "--worker-port",
                str(free_port()),
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, "BATON_TOPIC_PREFIX": f"q{uuid4().hex[:6]}."},
            start_new_session=True,
        )
    try:
        yield process, log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        finally:
            # The broker is gone in one test: a role stuck stopping must not outlive the test.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


def lines(log: Path) -> list[str]:
    return log.read_text(errors="replace").splitlines()


def events(log: Path) -> list[dict[str, Any]]:
    parsed = []
    for line in lines(log):
        try:
            parsed.append(json.loads(line))
        except ValueError:
            continue
    return parsed


def wait_until_ready(process: subprocess.Popen[bytes], log: Path) -> list[str]:
    def ready() -> list[str] | None:
        assert process.poll() is None, f"baton up exited:\n{log.read_text()[-3000:]}"
        printed = lines(log)
        text = "\n".join(printed)
        return printed if all(t in text for t in READY_TEXTS) else None

    ready_lines = assert_eventually(ready, timeout_s=90, message="every role of baton up started")
    assert ready_lines is not None
    return ready_lines


def test_a_normal_start_prints_a_handful_of_lines(
    baton_up: tuple[subprocess.Popen[bytes], Path],
) -> None:
    process, log = baton_up

    printed = wait_until_ready(process, log)

    assert len(printed) <= START_LINES_MAX, "\n".join(printed)
    loggers = {e.get("logger", "") for e in events(log)}
    assert not {name for name in loggers if name.startswith(("alembic", "faust", "mode"))}
    # All at info but one: the first admin's sign-in link, which the user must see.
    (warning,) = [e for e in events(log) if e["level"] != "info"]
    assert warning["level"] == "warning", warning
    assert FIRST_ADMIN_LINK.fullmatch(warning["event"]), warning


def test_a_dead_broker_is_a_few_lines(
    baton_up: tuple[subprocess.Popen[bytes], Path],
) -> None:
    process, log = baton_up
    wait_until_ready(process, log)
    (tansu,) = [
        child
        for child in psutil.Process(process.pid).children(recursive=True)
        if "--listener-url" in child.cmdline()
    ]

    before = len(lines(log))
    tansu.send_signal(signal.SIGKILL)
    time.sleep(BROKER_DEATH_WINDOW_S)  # the measurement window itself, not a wait for a condition
    after_death = lines(log)[before:]

    assert 0 < len(after_death) < BROKER_DEATH_LINES_MAX, "\n".join(after_death)
    supervisor = [e["event"] for e in events(log)[before:] if e.get("logger") == "baton.supervisor"]
    assert len(supervisor) == 2, supervisor
    assert supervisor[0].startswith("embedded broker on "), supervisor
    assert " lost (signal SIGKILL)" in supervisor[0], supervisor
    assert supervisor[1].startswith("embedded broker is back on "), supervisor
