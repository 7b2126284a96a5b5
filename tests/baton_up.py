"""``baton up`` as a user runs it, for the integration tests: start it on a fresh data directory
and free ports, wait until every role is up, and run ``baton`` commands beside it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from uuid import uuid4

from store.roles import Role
from tests.baton_cluster import free_port
from tests.eventually import assert_eventually

BATON_UP_START_TIMEOUT_S = 60.0
FIRST_ADMIN_LINK = re.compile(
    r"first start: sign in as admin with this one-time link .*: "
    r"(?P<link>https?://[^/\s]+/signin\?code=[A-Za-z0-9_-]+)$"
)
"""The warning a first ``baton up`` logs, once: the first admin's one-time sign-in link."""


def run_up(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int, Path]:
    """Start ``baton up`` (data directory ``tmp_path/data``, its output in ``tmp_path/up.log``,
    appended to); returns the process, the console's port and the log."""
    console_port = free_port()
    log = tmp_path / "up.log"
    with open(log, "ab") as out:
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
                str(console_port),
                "--worker-port",
                str(free_port()),
                *extra,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "BATON_TOPIC_PREFIX": f"u{uuid4().hex[:6]}."},
        )
    return process, console_port, log


def wait_until_up(process: subprocess.Popen[bytes], log: Path) -> None:
    def ready() -> bool:
        assert process.poll() is None, f"baton up exited:\n{log.read_text()[-3000:]}"
        text = log.read_text()
        return "worker ready" in text and "console listening" in text and "listening on" in text

    assert_eventually(
        ready, timeout_s=BATON_UP_START_TIMEOUT_S, message="every role of baton up started"
    )


def cli(*args: str) -> str:
    """``baton ARGS``, which must succeed; its stdout."""
    result = subprocess.run(
        [sys.executable, "-m", "baton", *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def create_token(name: str, role: Role, *store_args: str) -> str:
    """``baton tokens create NAME --role ROLE STORE_ARGS`` (``--data-dir D`` or
    ``--database-url U``); the plaintext, its last line."""
    return cli("tokens", "create", name, "--role", role.value, *store_args).strip().splitlines()[-1]


def producer_idempotence(log: Path) -> dict[str, bool]:
    """Each role's answer (``broker.idempotence``: its producers idempotent or not), from the JSON
    lines of ``baton up``'s log; the last, for a role that started more than once."""
    answers: dict[str, bool] = {}
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and "kafka_idempotent" in entry:
            answers[entry["role"]] = entry["kafka_idempotent"]
    return answers
