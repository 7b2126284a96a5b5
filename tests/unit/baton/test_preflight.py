"""Start-up checks on this machine: a taken port and an unwritable data directory are one
``StartupError`` naming the address or path and the flag that fixes it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from baton.preflight import Listener, bind_errors_as_port_in_use, check_data_dir, check_port_free
from streams.exceptions import DataDirUnwritable, PortInUse


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def console(port: int) -> Listener:
    return Listener(
        host="127.0.0.1",
        port=port,
        flag="--console-port",
        variable="BATON_CONSOLE_PORT",
        what="the console",
    )


def test_a_taken_port_names_the_address_and_the_flag(taken_port: int) -> None:
    with pytest.raises(PortInUse) as caught:
        check_port_free(console(taken_port))
    assert caught.value.port == taken_port
    assert f"127.0.0.1:{taken_port}" in caught.value.cause
    assert "--console-port PORT (or BATON_CONSOLE_PORT)" in caught.value.fix


def test_a_free_port_and_port_zero_pass() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    check_port_free(console(free))
    check_port_free(console(0))


def test_a_servers_own_bind_error_becomes_port_in_use(taken_port: int) -> None:
    with pytest.raises(PortInUse), bind_errors_as_port_in_use(console(taken_port)):
        socket.create_server(("127.0.0.1", taken_port))


def test_other_os_errors_pass_through(taken_port: int) -> None:
    with pytest.raises(FileNotFoundError), bind_errors_as_port_in_use(console(taken_port)):
        Path("/no/such/file").read_text()


def test_the_data_dir_is_created(tmp_path: Path) -> None:
    check_data_dir(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()
    assert list((tmp_path / "a" / "b").iterdir()) == [], "the probe file is removed"


def test_a_data_dir_that_cannot_be_created_names_the_path(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(DataDirUnwritable) as caught:
        check_data_dir(tmp_path / "file" / "data")
    assert caught.value.path == str(tmp_path / "file" / "data")
    assert "--data-dir" in caught.value.fix
