"""``baton console --host 0.0.0.0``, run as a user runs it: it starts, and says once, as it
starts, that it serves its dashboard and API in clear beyond this machine; on loopback it says
nothing of the kind. (The console alone needs no broker: it serves the store.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.baton_cluster import free_port
from tests.eventually import assert_eventually
from tests.self_signed import self_signed

pytestmark = pytest.mark.integration

WARNING = "the console listens on 0.0.0.0:{port}, beyond this machine, without TLS"


def run_console(tmp_path: Path, *args: str) -> tuple[int, str]:
    """Start ``baton console ARGS`` until it listens, stop it; its port and stderr."""
    port = free_port()
    log = tmp_path / f"console-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "baton", "console", "--port", str(port), *args],
            env={**os.environ, "BATON_DATA_DIR": str(tmp_path / "data")},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            assert_eventually(
                lambda: "console listening" in log.read_text(errors="replace"),
                timeout_s=60,
                message="the console listening",
            )
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    return port, log.read_text(errors="replace")


def test_beyond_loopback_the_console_warns_once_and_on_loopback_not(tmp_path: Path) -> None:
    port, output = run_console(tmp_path, "--host", "0.0.0.0")
    assert output.count(WARNING.format(port=port)) == 1, output
    assert "README.md, section 'TLS: serving beyond this machine'" in output

    _, quiet = run_console(tmp_path)
    assert "without TLS" not in quiet, quiet


def test_beyond_loopback_with_its_own_tls_the_console_serves_https_and_does_not_warn(
    tmp_path: Path,
) -> None:
    tls = self_signed(tmp_path)
    args = ("--host", "0.0.0.0", "--tls-cert", str(tls.cert), "--tls-key", str(tls.key))
    port, output = run_console(tmp_path, *args)

    assert f"console listening on https://0.0.0.0:{port}" in output, output
    assert "without TLS" not in output, output
    assert "in clear" not in output, output
