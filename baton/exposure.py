"""What a role exposes when it listens beyond loopback without TLS, said once at its start.

Baton's gateway and console listen on loopback by default. Another address (``--host 0.0.0.0``,
a LAN address, a host name) is allowed: a deployment puts them behind a TLS-terminating proxy
(README, "TLS"). Without TLS of Baton's own in front of it, the role then serves in clear to the
network, and says so once, as a warning naming what is exposed: the executors' WebSocket endpoint
(API keys in its URLs, workflow inputs and outputs in its frames) or the console's dashboard and
HTTP API. A role given a certificate (``--tls-cert``) serves TLS itself and says nothing.

The decision is pure (``exposure_warning``); ``warn_if_exposed`` logs it.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Literal

logger = logging.getLogger(__name__)

Role = Literal["gateway", "console"]

TLS_DOCS = "README.md, section 'TLS: serving beyond this machine'"

_EXPOSED: dict[Role, str] = {
    "gateway": (
        "the executors' WebSocket endpoint (ws://), whose URLs carry the apps' API keys and whose "
        "frames carry workflow inputs and outputs"
    ),
    "console": (
        "the console's dashboard and HTTP API (http://): workflow inputs and outputs, operators' "
        "actions and API tokens"
    ),
}
_TLS_FIX: dict[Role, str] = {
    "gateway": "put a TLS-terminating proxy in front and give executors a wss:// conductor_url",
    "console": "put a TLS-terminating proxy in front (https://)",
}


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``): reachable from this machine
    only. Any other name, the wildcard (``0.0.0.0``, ``::``, empty) included, is not."""
    if host.strip().lower().rstrip(".") in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def exposure_warning(role: Role, host: str, port: int, *, tls: bool = False) -> str | None:
    """The warning a role logs at start when it listens beyond loopback without TLS; ``None``
    when it listens on loopback only or serves TLS itself."""
    if tls or is_loopback(host):
        return None
    shown = f"[{host}]" if ":" in host else (host or "0.0.0.0")
    return (
        f"the {role} listens on {shown}:{port}, beyond this machine, without TLS: it exposes "
        f"{_EXPOSED[role]} in clear to the network; {_TLS_FIX[role]} (see {TLS_DOCS})"
    )


def warn_if_exposed(role: Role, host: str, port: int, *, tls: bool = False) -> None:
    """Log ``exposure_warning`` once, if there is one (call it once, as the role starts)."""
    warning = exposure_warning(role, host, port, tls=tls)
    if warning is not None:
        logger.warning("%s", warning, extra={"role": role, "host": host, "port": port})
