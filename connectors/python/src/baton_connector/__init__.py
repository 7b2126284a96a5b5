"""baton-connector: connect a DBOS Python application (dbos 3.3 and 3.4, whose open core has no
Conductor client) to a Baton conductor, through DBOS's public API.

Usage, after ``DBOS.launch()`` and with a unique ``executor_id`` in the DBOS config::

    handle = baton_connector.connect(conductor_url, conductor_key)
    ...
    DBOS.destroy()
    handle.stop()

Owns ``connect`` and ``ConnectorHandle``; the wire format is ``protocol``, the DBOS side
``verbs``, the recovery path per version ``recovery``, the socket ``connection``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from dbos import DBOS

from baton_connector import protocol
from baton_connector.connection import ConductorSocket
from baton_connector.exceptions import ConfigError, ConnectorError, NotSupported, ProtocolError
from baton_connector.recovery import Strategy
from baton_connector.verbs import Verbs

__all__ = [
    "ConfigError",
    "ConnectorError",
    "ConnectorHandle",
    "NotSupported",
    "ProtocolError",
    "Strategy",
    "connect",
]
__version__ = "0.1.0"

logger = logging.getLogger(__name__)

DEFAULT_EXECUTOR_ID = "local"
"""DBOS's executor id when neither ``executor_id`` nor ``DBOS__VMID`` is set."""


class ConnectorHandle:
    """The running connection of this process; ``stop()`` after ``DBOS.destroy()``."""

    def __init__(self, socket: ConductorSocket, verbs: Verbs) -> None:
        self._socket = socket
        self.recovery_strategy: Strategy = verbs.strategy
        """How this connector serves ``recovery`` on the installed dbos."""

    def wait_connected(self, timeout_s: float) -> bool:
        """Block until a session with the conductor is open; ``False`` after ``timeout_s``."""
        return self._socket.connected.wait(timeout_s)

    def stop(self) -> None:
        """Close the session with 1000 and stop reconnecting (idempotent)."""
        self._socket.stop()


def connect(
    conductor_url: str,
    conductor_key: str,
    *,
    app_name: str | None = None,
    executor_metadata: Mapping[str, Any] | None = None,
    recovery: Strategy | None = None,
) -> ConnectorHandle:
    """Connect this launched DBOS application to the conductor at ``conductor_url``.

    Args:
        conductor_url: ``ws://`` or ``wss://`` base URL of Baton's gateway.
        conductor_key: The application's conductor key.
        app_name: The application name in the URL; by default DBOS's configured ``name``.
        executor_metadata: Sent in ``executor_info`` (with ``connector`` and ``recovery``).
        recovery: Force a recovery strategy instead of the version table's choice (the public
            path where the private call misbehaves; the private one only where it exists).

    Returns:
        The handle whose ``stop()`` ends the session.

    Raises:
        ConfigError: DBOS is not launched, the executor id is DBOS's shared default
            (``"local"``), the URL is not a websocket URL, or ``recovery`` names the private
            call on a dbos without it.
    """
    scheme = urlsplit(conductor_url).scheme
    if scheme not in ("ws", "wss"):
        raise ConfigError(f"conductor_url must be a ws:// or wss:// URL, not {scheme or 'none'!r}")
    if not conductor_key:
        raise ConfigError("conductor_key is empty")
    _check_executor_id()
    name = app_name or _configured_app_name()
    base = conductor_url.rstrip("/") + f"/websocket/{quote(name, safe='')}"
    verbs = Verbs(
        executor_metadata={
            "connector": f"baton-connector {__version__}",
            **(executor_metadata or {}),
        },
        strategy=recovery,
    )

    def answer(request: protocol.Request) -> str:
        return protocol.encode(request, verbs.answer(request))

    socket = ConductorSocket(f"{base}/{quote(conductor_key, safe='')}", answer, shown_url=base)
    socket.start()
    logger.info(
        "baton-connector started for %s (executor %s, recovery %s)",
        name,
        DBOS.executor_id,
        verbs.strategy.value,
    )
    return ConnectorHandle(socket, verbs)


def _check_executor_id() -> None:
    if not DBOS.application_version:
        raise ConfigError("call baton_connector.connect after DBOS.launch()")
    if DBOS.executor_id == DEFAULT_EXECUTOR_ID:
        # Every process would be "local": each one's startup recovery would re-enqueue all of
        # the application's PENDING workflows, and Baton could not tell executors apart.
        raise ConfigError(
            'the DBOS executor id is "local": give each process a unique one, e.g. '
            '"executor_id": str(uuid.uuid4()) in the DBOS config (or DBOS__VMID)'
        )


def _configured_app_name() -> str:
    # DBOS 3.3/3.4 have no public accessor for the configured name; this is a read of the
    # value DBOS.launch() set (the README lists it with the recovery call as private uses).
    from dbos._utils import GlobalParams

    name = GlobalParams.app_name
    if not name:
        raise ConfigError("DBOS has no application name: pass app_name= to connect")
    return str(name)
