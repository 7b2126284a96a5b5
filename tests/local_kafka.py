"""Apache Kafka for tests and benchmarks: ``deploy/local/kafka`` (Kafka's own jars on the JDK, a
KRaft cluster on loopback) driven from Python.

No pytest imports here: benchmarks use it too. Everything blocks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "deploy" / "local" / "kafka"
"""The script every Apache Kafka cluster of the tests comes from."""
START_TIMEOUT_S = 600.0
"""The first start fetches the jars with Maven."""
STOP_TIMEOUT_S = 150.0


class LocalKafkaError(RuntimeError):
    """``deploy/local/kafka`` failed; carries its stderr tail."""


@contextmanager
def running_kafka(
    directory: Path, nodes: int = 1, *, proxied: bool = False
) -> Iterator[LocalKafka]:
    """A cluster of ``nodes`` started in ``directory`` (see :meth:`LocalKafka.start`), stopped on
    exit, also when its start failed half-way; a failed start says what it requires."""
    kafka = LocalKafka(directory)
    try:
        try:
            kafka.start(nodes, proxied=proxied)
        except LocalKafkaError as exc:
            raise LocalKafkaError(
                f"Apache Kafka (deploy/local/kafka; a JDK 17+ and Maven) is required: {exc}"
            ) from exc
        yield kafka
    finally:
        kafka.stop()


@dataclass
class LocalKafka:
    """One cluster of ``deploy/local/kafka`` living in ``directory``."""

    directory: Path
    bootstrap: str = field(default="", init=False)
    """``127.0.0.1:P1,...`` once started."""

    def start(self, nodes: int = 1, *, proxied: bool = False) -> str:
        """Start every node (creating the cluster on first use; ``proxied``: with a PROXIED
        listener per node, see :meth:`proxy_routes`); returns the bootstrap servers."""
        flags = ("--proxied",) if proxied else ()
        self.bootstrap = self._run(
            "start", "--nodes", str(nodes), *flags, timeout_s=START_TIMEOUT_S
        )
        return self.bootstrap

    def proxy_routes(self) -> list[tuple[int, int]]:
        """Per node of a ``proxied`` cluster, ``(proxy_port, proxied_port)``: a client
        bootstrapped at the proxy ports reaches every broker through them, so a proxy from each
        proxy port to its proxied port carries all of its traffic."""
        state = json.loads((self.directory / "cluster.json").read_text())
        routes = [(n["proxy_port"], n["proxied_port"]) for n in state["nodes"] if "proxy_port" in n]
        if not routes:
            raise LocalKafkaError(f"the cluster in {self.directory} was not started proxied")
        return routes

    def start_node(self, node: int) -> None:
        """Start node ``node`` (1-based) again, on its ports and storage."""
        self._run("start", "--node", str(node), timeout_s=START_TIMEOUT_S)

    def stop_node(self, node: int) -> None:
        """Stop node ``node`` (SIGTERM: a controlled shutdown) and wait for its exit."""
        self._run("stop", "--node", str(node), timeout_s=STOP_TIMEOUT_S)

    def node_pid(self, node: int) -> int:
        """The pid of node ``node``'s JVM (1-based), while it runs."""
        return int((self.directory / f"node{node}" / "pid").read_text().strip())

    def kill_node(self, node: int) -> None:
        """SIGKILL node ``node``'s JVM (a crash: no controlled shutdown) and wait for its exit."""
        pid = self.node_pid(node)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _alive(pid):
            if time.monotonic() > deadline:
                raise LocalKafkaError(f"node {node} (pid {pid}) outlived SIGKILL")
            time.sleep(0.05)
        self._run("stop", "--node", str(node), timeout_s=STOP_TIMEOUT_S)  # forgets its pid file

    def stop(self) -> None:
        """Stop every node that runs and wait for their exit."""
        if (self.directory / "cluster.json").exists():
            self._run("stop", timeout_s=STOP_TIMEOUT_S)

    def _run(self, *args: str, timeout_s: float) -> str:
        result = subprocess.run(
            [str(SCRIPT), *args, "--dir", str(self.directory)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if result.returncode != 0:
            tail = "\n".join(result.stderr.splitlines()[-30:])
            raise LocalKafkaError(f"deploy/local/kafka {' '.join(args)} failed:\n{tail}")
        lines = result.stdout.strip().splitlines()
        return lines[-1] if lines else ""


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie has exited: its parent, not us, reaps it)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
