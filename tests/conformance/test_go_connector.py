"""The Go connector's own tests (``connectors/go``, ``go test``): its session with a websocket
peer in the test (the path, a refused and an unknown verb, a bad request, the reconnect 1 s after
a close, the 1000 close at shutdown) and its wire rendering, without DBOS.

Against real DBOS Go apps (v1.7.0, v1.8.0, v1.9.0) the connector is run by ``test_clients.py``
(its ``go-v1.x.0-connector`` clients) and ``test_rewind.py``.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.clients.client import GO_CONNECTOR_DIR

pytestmark = pytest.mark.conformance

GO_TEST_TIMEOUT_S = 600.0
"""A fresh build cache compiles the DBOS module and its dependencies first."""


def test_the_go_connectors_own_tests_pass() -> None:
    go = shutil.which("go")
    assert go is not None, (
        "connectors/go is tested with the Go toolchain and `go` is missing: install Go 1.26+ "
        "(`make client-deps` needs it too)"
    )
    result = subprocess.run(
        [go, "test", "-count=1", "-mod=readonly", "./..."],
        cwd=GO_CONNECTOR_DIR,
        capture_output=True,
        text=True,
        timeout=GO_TEST_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
