"""``bench.brokers``: the broker a benchmark runs on."""

from __future__ import annotations

import os
import socket
import subprocess

import psutil
import pytest

from bench.brokers import Broker, on_broker


def _reachable(bootstrap: str) -> bool:
    host, port = bootstrap.split(",")[0].rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


def test_the_embedded_broker_runs_during_the_work_and_is_stopped_after_it() -> None:
    """Its own process is the one reported, also beside another child named like it (as when
    another test's broker runs in the same process)."""
    seen: list[Broker] = []
    decoy = subprocess.Popen(["bash", "-c", "exec -a tansu-decoy sleep 60"])

    def work(broker: Broker) -> str:
        seen.append(broker)
        assert broker.pid != decoy.pid
        assert psutil.Process(broker.pid).ppid() == os.getpid()
        assert "tansu" in " ".join(psutil.Process(broker.pid).cmdline())
        assert _reachable(broker.bootstrap)
        return "done"

    try:
        assert on_broker("tansu", work) == "done"
    finally:
        decoy.kill()
        decoy.wait()
    (broker,) = seen
    assert broker.kind == "tansu"
    assert not psutil.pid_exists(broker.pid) or psutil.Process(broker.pid).status() == "zombie"
    assert not _reachable(broker.bootstrap)


def test_an_unknown_broker_is_refused_before_anything_starts() -> None:
    with pytest.raises(ValueError, match="unknown broker 'redpanda': one of tansu, kafka"):
        on_broker("redpanda", lambda broker: None)
