"""``baton up`` as a user runs it: every role comes up on loopback, the CLI works against it, and
SIGTERM stops everything, children included. Both the embedded default (own broker, SQLite) and
``--kafka`` with a PostgreSQL ``--database-url``. Each role's producers are idempotent where the
broker grants it: on Apache Kafka, not on the embedded broker."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import psutil
import pytest

from store.roles import Role
from tests.baton_up import cli, create_token, producer_idempotence, run_up, wait_until_up
from tests.dbos_app.harness import create_database, drop_database

pytestmark = pytest.mark.integration

ROLES = ("worker", "gateway", "console")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    name = f"baton_up{uuid4().hex[:8]}"
    url = create_database(name)
    try:
        yield url
    finally:
        drop_database(name)


def stop_and_check_children(process: subprocess.Popen[bytes], log: Path) -> None:
    children = psutil.Process(process.pid).children(recursive=True)
    assert len(children) >= 3, [c.cmdline() for c in children]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=40) == 0, log.read_text()[-3000:]
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], [p.cmdline() for p in alive]


def listening_ports(process: subprocess.Popen[bytes]) -> set[tuple[str, int]]:
    family = psutil.Process(process.pid)
    addresses = set()
    for proc in [family, *family.children(recursive=True)]:
        for conn in proc.net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN:
                addresses.add((conn.laddr.ip, conn.laddr.port))
    return addresses


def open_to_others(data: Path) -> list[str]:
    """What under ``data`` (itself included) group or others may open, with its mode."""
    found = [p for p in [data, *data.rglob("*")] if not p.is_symlink()]
    return [f"{p} {stat.S_IMODE(p.stat().st_mode):o}" for p in found if p.stat().st_mode & 0o077]


def test_embedded_default_serves_and_stops_cleanly(tmp_path: Path) -> None:
    process, console_port, log = run_up(tmp_path)
    try:
        wait_until_up(process, log)
        key = cli("keys", "create", "shop", "--data-dir", str(tmp_path / "data"))
        assert key.strip().splitlines()[-1].startswith("bk_")
        token = create_token("tester", Role.VIEWER, "--data-dir", str(tmp_path / "data"))
        request = urllib.request.Request(
            f"http://127.0.0.1:{console_port}/api/v1/apps/shop/executors",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request) as r:
            assert json.loads(r.read()) == []
        # Nothing Baton starts listens beyond loopback by default (Faust's web server included).
        assert {ip for ip, _ in listening_ports(process)} == {"127.0.0.1"}
        assert (tmp_path / "data" / "baton.db").exists()
        assert (tmp_path / "data" / "broker.log").exists()
        assert producer_idempotence(log) == dict.fromkeys(ROLES, False)
        # The store, its WAL, the broker's log, the worker's tables: the user's alone.
        assert open_to_others(tmp_path / "data") == []
        stop_and_check_children(process, log)
    finally:
        if process.poll() is None:
            process.kill()


def test_external_kafka_and_postgres_store(
    tmp_path: Path, kafka_bootstrap: str, session_broker: str, postgres_url: str
) -> None:
    # Trust authentication ignores the password; nothing may show it all the same.
    secret = f"pw-{uuid4().hex[:8]}"
    url = postgres_url.replace("postgres@", f"postgres:{secret}@", 1)
    process, _console_port, log = run_up(
        tmp_path, "--kafka", kafka_bootstrap, "--database-url", url
    )
    try:
        wait_until_up(process, log)
        assert "embedded broker" not in log.read_text()
        idempotent = session_broker == "kafka"
        assert producer_idempotence(log) == dict.fromkeys(ROLES, idempotent)
        cli("keys", "create", "billing", "--database-url", url)
        listing = cli("keys", "list", "billing", "--database-url", url)
        assert len(listing.strip().splitlines()) == 2
        assert not (tmp_path / "data" / "baton.db").exists()
        # Every user can read a command line: the children get the URL in their environment.
        children = psutil.Process(process.pid).children(recursive=True)
        assert not [c.cmdline() for c in children if secret in " ".join(c.cmdline())]
        stop_and_check_children(process, log)
        assert secret not in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
