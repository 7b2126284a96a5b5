"""Every error a user can cause at start-up, made for real and run as a user runs ``baton``: one
line on stderr naming the cause and the fix, exit code 2, no traceback, nothing left running.

Taken ports are real listening sockets, the unreachable database and broker are closed loopback
ports, the missing database is asked of the real PostgreSQL.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.baton_cluster import free_port
from tests.dbos_app.system_db import database_url
from tests.self_signed import self_signed, stray_key

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Failure:
    returncode: int
    stdout: str
    stderr: str

    @property
    def line(self) -> str:
        """The one line printed, after checking that it is one line and no traceback."""
        assert self.returncode == 2, self.stderr
        assert "Traceback" not in self.stderr, self.stderr
        lines = self.stderr.splitlines()
        assert len(lines) == 1, self.stderr
        assert lines[0].startswith("baton: "), lines[0]
        assert "; to fix, " in lines[0], lines[0]
        return lines[0]


def baton(*args: str, env: dict[str, str] | None = None, timeout_s: float = 60) -> Failure:
    result = subprocess.run(
        [sys.executable, "-m", "baton", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, **(env or {})},
    )
    return Failure(result.returncode, result.stdout, result.stderr)


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    return free_port()


@pytest.fixture
def up_args(tmp_path: Path) -> list[str]:
    """``baton up`` on a fresh data dir and free ports (8080/8090 may be someone else's here)."""
    return [
        "up",
        "--data-dir",
        str(tmp_path / "data"),
        "--gateway-port",
        str(free_port()),
        "--console-port",
        str(free_port()),
        "--worker-port",
        str(free_port()),
    ]


@pytest.mark.parametrize(
    ("flag", "what"),
    [
        ("--console-port", "the console"),
        ("--gateway-port", "the gateway"),
        ("--worker-port", "the worker"),
        ("--broker-port", "the embedded broker"),
    ],
)
def test_baton_up_on_a_taken_port(
    up_args: list[str], taken_port: int, flag: str, what: str
) -> None:
    line = baton(*up_args, flag, str(taken_port)).line

    assert f"{what} cannot listen on 127.0.0.1:{taken_port}: it is already in use" in line
    assert f"{flag} PORT" in line


@pytest.mark.parametrize(
    ("role", "what", "variable"),
    [
        ("gateway", "the gateway", "GATEWAY"),
        ("console", "the console", "CONSOLE"),
        ("worker", "the worker", "WORKER"),
    ],
)
def test_a_role_on_a_taken_port(
    tmp_path: Path, taken_port: int, closed_port: int, role: str, what: str, variable: str
) -> None:
    line = baton(
        role,
        "--port",
        str(taken_port),
        "--kafka",
        f"127.0.0.1:{closed_port}",
        "--data-dir",
        str(tmp_path),
    ).line

    assert f"{what} cannot listen on 127.0.0.1:{taken_port}" in line
    assert f"--port PORT (or BATON_{variable}_PORT)" in line


def test_an_unparsable_kafka_address(up_args: list[str]) -> None:
    line = baton(*up_args, "--kafka", "localhost").line

    assert "--kafka 'localhost' is not HOST:PORT" in line
    assert "e.g. 127.0.0.1:9092" in line


def test_a_kafka_address_where_nothing_listens(up_args: list[str], closed_port: int) -> None:
    line = baton(*up_args, "--kafka", f"127.0.0.1:{closed_port}").line

    assert f"no Kafka broker answers at 127.0.0.1:{closed_port} (connection refused)" in line
    assert "start Kafka there" in line


def test_a_database_that_refuses_connections(up_args: list[str], closed_port: int) -> None:
    url = f"postgresql://baton:hunter2@127.0.0.1:{closed_port}/baton"
    failure = baton(*up_args, "--database-url", url)

    masked = f"postgresql+asyncpg://baton:***@127.0.0.1:{closed_port}/baton"
    assert f"cannot reach the store database {masked} (" in failure.line
    assert "start PostgreSQL there" in failure.line
    assert "hunter2" not in failure.stderr + failure.stdout


def test_a_database_that_does_not_exist(up_args: list[str]) -> None:
    # The test server trusts its clients: any password is accepted, and must not be printed.
    server = urlsplit(database_url("baton_no_such_database"))
    netloc = f"{server.username}:hunter2@{server.hostname}:{server.port}"
    url = server._replace(netloc=netloc).geturl()
    failure = baton(*up_args, "--database-url", url)

    assert 'database "baton_no_such_database" does not exist' in failure.line
    assert "create the database" in failure.line
    assert "hunter2" not in failure.stderr + failure.stdout


def test_a_bad_setting_in_the_environment(up_args: list[str]) -> None:
    line = baton(*up_args, env={"BATON_PING_INTERVAL_S": "often"}).line

    assert "ping_interval_s='often' (from BATON_PING_INTERVAL_S) is not a number" in line
    assert "set BATON_PING_INTERVAL_S to a number, or unset it" in line


def test_a_data_dir_that_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("a file where the data dir should go")
    data_dir = tmp_path / "file" / "data"

    line = baton("up", "--data-dir", str(data_dir)).line

    assert f"the data directory {data_dir} is not writable" in line
    assert "--data-dir" in line


def test_a_tls_key_of_another_certificate(up_args: list[str], tmp_path: Path) -> None:
    tls = self_signed(tmp_path)
    other = stray_key(tmp_path)

    line = baton(*up_args, "--tls-cert", str(tls.cert), "--tls-key", str(other)).line

    assert f"the TLS key {other} does not belong to the certificate {tls.cert}" in line
    assert "(key values mismatch)" in line
    assert "--tls-cert PATH --tls-key PATH" in line


@pytest.mark.parametrize("role", ["gateway", "console"])
def test_a_role_given_a_tls_certificate_without_its_key(
    tmp_path: Path, closed_port: int, role: str
) -> None:
    tls = self_signed(tmp_path)

    line = baton(
        role,
        "--port",
        str(free_port()),
        "--kafka",
        f"127.0.0.1:{closed_port}",
        "--data-dir",
        str(tmp_path / "data"),
        "--tls-cert",
        str(tls.cert),
    ).line

    assert "a TLS certificate (--tls-cert) is given without its key (--tls-key)" in line
    assert "give both --tls-cert PATH --tls-key PATH" in line


def test_an_unreadable_tls_certificate(up_args: list[str], tmp_path: Path) -> None:
    tls = self_signed(tmp_path)
    missing = tmp_path / "no-such-cert.pem"

    line = baton(*up_args, env={"BATON_TLS_CERT": str(missing), "BATON_TLS_KEY": str(tls.key)}).line

    assert f"cannot read the TLS certificate {missing} (No such file or directory)" in line
