"""The DBOS clients under test, each the newest of its line whose Conductor client is open (MIT).

Owns the list; ``client`` says what a client is. Imports nothing from Baton or pytest.
"""

from __future__ import annotations

from tests.clients.client import (
    CACHE_DIR,
    TYPESCRIPT_DIR,
    Client,
    GoClient,
    JavaClient,
    PythonClient,
    TypeScriptClient,
)

PYTHON_2_31 = PythonClient(sdk_version="2.31.1")
"""The test interpreter's own dbos (pinned by the test extras): the harness's default."""
PYTHON_3_2 = PythonClient(sdk_version="3.2.0", venv=CACHE_DIR / "dbos-3.2.0")
"""dbos 3.2.0 in a virtual environment of its own (3.3 moved the Conductor client out)."""
PYTHON_3_3_CONNECTOR = PythonClient(
    sdk_version="3.3.0", venv=CACHE_DIR / "dbos-3.3.0-connector", connector=True
)
"""dbos 3.3.0 (no open Conductor client) connected through ``connectors/python``."""
PYTHON_3_4_CONNECTOR = PythonClient(
    sdk_version="3.4.0", venv=CACHE_DIR / "dbos-3.4.0-connector", connector=True
)
"""dbos 3.4.0 connected through ``connectors/python``."""
TYPESCRIPT_5_2 = TypeScriptClient(sdk_version="5.2.11")
"""@dbos-inc/dbos-sdk 5.2.11 (5.3 moved the Conductor client out)."""
TYPESCRIPT_5_3_CONNECTOR = TypeScriptClient(
    sdk_version="5.3.0", install_dir=TYPESCRIPT_DIR.parent / "typescript-connector", connector=True
)
"""@dbos-inc/dbos-sdk 5.3.0 (no open Conductor client) connected through ``connectors/typescript``:
the same app on the install of ``tests/clients/typescript-connector``."""

GO_1_6 = GoClient(sdk_version="v1.6.0")
"""github.com/dbos-inc/dbos-transact-golang v1.6.0 (1.7 moved the Conductor client behind
``dbos.RegisterConductorFactory``, filled by a proprietary module)."""


def _go_connector(version: str) -> GoClient:
    return GoClient(
        sdk_version=version,
        connector=True,
        binary=CACHE_DIR / f"go-{version}-connector" / "executor-app",
    )


GO_1_7_CONNECTOR = _go_connector("v1.7.0")
"""github.com/dbos-inc/dbos-transact-golang v1.7.0 (the first without an open Conductor client)
connected through ``connectors/go``."""
GO_1_8_CONNECTOR = _go_connector("v1.8.0")
"""v1.8.0 through ``connectors/go``."""
GO_1_9_CONNECTOR = _go_connector("v1.9.0")
"""v1.9.0 through ``connectors/go``."""

JAVA_1_1 = JavaClient(sdk_version="1.1.0-m6")
"""dev.dbos:transact 1.1.0-m6, the only release the Maven registry serves; its jar holds the
Conductor client (``dev.dbos.transact.conductor``)."""

PYTHON_CONNECTORS: tuple[Client, ...] = (PYTHON_3_3_CONNECTOR, PYTHON_3_4_CONNECTOR)
"""The dbos releases ``connectors/python`` declares, connected through it."""
GO_CONNECTORS: tuple[Client, ...] = (GO_1_7_CONNECTOR, GO_1_8_CONNECTOR, GO_1_9_CONNECTOR)
"""The dbos-transact-golang releases ``connectors/go`` declares, connected through it."""
TYPESCRIPT_CONNECTORS: tuple[Client, ...] = (TYPESCRIPT_5_3_CONNECTOR,)
"""The @dbos-inc/dbos-sdk releases ``connectors/typescript`` declares, connected through it."""
CONNECTORS: tuple[Client, ...] = (*PYTHON_CONNECTORS, *TYPESCRIPT_CONNECTORS, *GO_CONNECTORS)
"""The DBOS releases each connector in ``connectors/`` declares, connected through it."""

ALL: tuple[Client, ...] = (PYTHON_2_31, PYTHON_3_2, TYPESCRIPT_5_2, GO_1_6, JAVA_1_1, *CONNECTORS)


def by_label(label: str) -> Client:
    """The client labelled ``label`` (``python-3.2.0``).

    Raises:
        KeyError: no such client; the message lists the known labels.
    """
    for client in ALL:
        if client.label == label:
            return client
    raise KeyError(f"unknown client {label!r}; known: {', '.join(c.label for c in ALL)}")
