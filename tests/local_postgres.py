"""A PostgreSQL server a test may stop and start: ``deploy/local/postgres`` with a cluster name and
port of its own (``BATON_TEST_FAULT_PG_CLUSTER``, ``BATON_TEST_FAULT_PG_PORT``; defaults
``baton-fault`` and 5437), never the shared server of ``BATON_TEST_PG_URL`` that other tests
use. Its database ``store`` is created empty at each :meth:`~ThrowawayPostgres.start`.

No pytest imports here. Everything blocks; creating the cluster (the first time on a machine)
needs root, like ``deploy/local/postgres``.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

SCRIPT = Path(__file__).resolve().parents[1] / "deploy" / "local" / "postgres"
TIMEOUT_S = 120.0
DATABASE = "store"


class ThrowawayPostgresError(RuntimeError):
    """``deploy/local/postgres`` or ``pg_ctlcluster`` failed; carries their output."""


@dataclass
class ThrowawayPostgres:
    cluster: str = field(
        default_factory=lambda: os.environ.get("BATON_TEST_FAULT_PG_CLUSTER", "baton-fault")
    )
    port: int = field(
        default_factory=lambda: int(os.environ.get("BATON_TEST_FAULT_PG_PORT", "5437"))
    )
    server_url: str = field(default="", init=False)
    """``postgresql://postgres@127.0.0.1:PORT`` once started."""

    @property
    def store_url(self) -> str:
        """Baton's ``--database-url`` for the database ``store``."""
        return f"{self.server_url}/{DATABASE}".replace("postgresql://", "postgresql+asyncpg://", 1)

    def start(self) -> ThrowawayPostgres:
        """Create the cluster if missing, start it, and (re)create an empty ``store``."""
        env = {
            **os.environ,
            "BATON_TEST_PG_CLUSTER": self.cluster,
            "BATON_TEST_PG_PORT": str(self.port),
        }
        result = subprocess.run(
            [str(SCRIPT)], env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
        if result.returncode != 0:
            raise ThrowawayPostgresError(f"deploy/local/postgres failed:\n{result.stderr}")
        self.server_url = result.stdout.strip().splitlines()[-1]
        with psycopg.connect(f"{self.server_url}/postgres", autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(DATABASE)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
        return self

    def stop_server(self) -> None:
        """Stop the server (fast: every session is cut); the cluster and its data stay."""
        if self.running():
            self._ctl("stop", "-m", "fast")

    def start_server(self) -> None:
        """Start the stopped server again; returns once it accepts connections."""
        if not self.running():
            self._ctl("start")

    def running(self) -> bool:
        return self._cluster_line()[3] == "online"

    def _ctl(self, *args: str) -> None:
        command = ["pg_ctlcluster", self._version(), self.cluster, *args]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
        if result.returncode != 0:
            raise ThrowawayPostgresError(f"{' '.join(command)} failed:\n{result.stderr}")

    def _version(self) -> str:
        return self._cluster_line()[0]

    def _cluster_line(self) -> list[str]:
        """The cluster's line of ``pg_lsclusters``: version, name, port, status, ..."""
        listed = subprocess.run(
            ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True
        ).stdout
        for line in listed.splitlines():
            fields = line.split()
            if fields[1] == self.cluster:
                return fields
        raise ThrowawayPostgresError(f"no PostgreSQL cluster {self.cluster!r}: start() it first")
