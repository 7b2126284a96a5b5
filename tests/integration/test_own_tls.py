"""``baton up --tls-cert --tls-key`` as a user runs it: the gateway serves ``wss://`` and the
console ``https://`` with a certificate made by the test, and clients that trust that
certificate alone talk to them (an executor's WebSocket session, the console's API); a client
speaking in clear gets nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from websockets.sync.client import connect

from tests.baton_cluster import free_port
from tests.eventually import assert_eventually
from tests.self_signed import SelfSigned, self_signed

pytestmark = pytest.mark.integration


def cli(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "baton", *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_baton_up_serves_wss_and_https_with_its_own_certificate(tmp_path: Path) -> None:
    tls: SelfSigned = self_signed(tmp_path)
    gateway_port, console_port = free_port(), free_port()
    data = tmp_path / "data"
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "baton",
                "up",
                "--data-dir",
                str(data),
                "--gateway-port",
                str(gateway_port),
                "--console-port",
                str(console_port),
                "--worker-port",
                str(free_port()),
                "--tls-cert",
                str(tls.cert),
                "--tls-key",
                str(tls.key),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "BATON_TOPIC_PREFIX": f"t{uuid4().hex[:6]}."},
        )
    try:

        def up() -> bool:
            assert process.poll() is None, f"baton up exited:\n{log.read_text()[-3000:]}"
            text = log.read_text()
            # The supervisor says it is up once the ports answer; the console may log its own
            # line a moment later.
            return "Baton is up" in text and "console listening" in text

        assert_eventually(up, timeout_s=90, message="baton up with TLS started")
        text = log.read_text()
        assert f"listening on wss://127.0.0.1:{gateway_port}" in text, text[-3000:]
        assert f"console listening on https://127.0.0.1:{console_port}" in text, text[-3000:]
        assert f"executors connect to wss://127.0.0.1:{gateway_port}" in text
        assert f"console at https://127.0.0.1:{console_port}" in text

        # The console, over HTTPS, to a client that trusts the test's certificate alone.
        with httpx.Client(verify=tls.client_context(), timeout=10) as client:
            health = client.get(f"https://localhost:{console_port}/healthz")
            assert health.status_code == 200, health.text
        with pytest.raises(httpx.HTTPError):  # in clear, the TLS server answers no HTTP
            httpx.get(f"http://127.0.0.1:{console_port}/healthz", timeout=5)

        # An executor's session over wss://: the gateway asks who it is, as it does in clear.
        key = cli("keys", "create", "shop", "--data-dir", str(data)).strip().splitlines()[-1]
        url = f"wss://localhost:{gateway_port}/websocket/shop/{key}"
        with connect(url, ssl=tls.client_context(), open_timeout=10) as ws:
            first = json.loads(ws.recv(timeout=10))
            assert first["type"] == "executor_info", first
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
