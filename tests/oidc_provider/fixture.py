"""A real OpenID Connect provider for the single sign-on tests: panva's oidc-provider on Node.js.

Registered as a pytest plugin for every tier (``-p tests.oidc_provider.fixture`` in
pyproject.toml). The session fixture ``oidc_provider`` installs the pinned npm dependencies once
(``npm ci`` into ``tests/oidc_provider/node_modules``, as ``make oidc-deps`` does; skipped while
the pinned version is there), starts ``server.js`` on a free loopback port with one client whose
callback is ``http://127.0.0.1:PORT/auth/oidc/callback`` on a port this fixture holds open,
waits for the discovery document and yields a ``LocalProvider``. Without Node.js or npm the tests
fail with what to install; they never skip.

Accounts (``server.js``; any password): ``alice`` (groups ``baton-operators``), ``ada``
(``baton-operators``, ``baton-admins``), ``eve`` (no groups).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import httpx2
import pytest

PROVIDER_DIR = Path(__file__).resolve().parent
CLIENT_ID = "baton-console"
START_TIMEOUT_S = 30.0
INSTALL_TIMEOUT_S = 300.0


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalProvider:
    """The running provider and the client registered at it."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    """The client's one registered callback: ``http://127.0.0.1:PORT/auth/oidc/callback``."""
    console_origin: str
    """``http://127.0.0.1:PORT``: where the console under test must be reached for that callback
    (mount it there in an httpx client, or serve it on ``console_socket()``)."""
    _socket: socket.socket = field(repr=False)

    def console_socket(self) -> socket.socket:
        """A listening socket on ``console_origin``'s port, for serving the console under test
        (a duplicate: the server may close it when it stops)."""
        return self._socket.dup()


def install_dependencies() -> None:
    """``npm ci`` in ``tests/oidc_provider`` unless the pinned oidc-provider is installed."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.fail(
                f"the single sign-on tests start a real OIDC provider on Node.js and `{tool}` is "
                "missing: install Node.js 20+ with npm (`apt-get install nodejs npm`), then run "
                "`make oidc-deps`"
            )
    pinned = json.loads((PROVIDER_DIR / "package.json").read_text())["dependencies"]
    installed = PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json"
    if (
        installed.exists()
        and json.loads(installed.read_text())["version"] == pinned["oidc-provider"]
    ):
        return
    result = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"],
        cwd=PROVIDER_DIR,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"`npm ci` in {PROVIDER_DIR} failed (exit {result.returncode}); the single sign-on "
            f"tests need the npm registry once:\n{result.stderr[-2000:]}"
        )


@pytest.fixture(scope="session")
async def oidc_provider(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[LocalProvider]:
    """The session's OIDC provider (started on first use, stopped at the end)."""
    install_dependencies()
    console = socket.create_server(("127.0.0.1", 0))
    origin = f"http://127.0.0.1:{console.getsockname()[1]}"
    client_secret = secrets.token_urlsafe(24)
    log_path = tmp_path_factory.mktemp("oidc_provider") / "stderr.log"
    with log_path.open("wb") as log, contextlib.closing(console):
        process = await asyncio.create_subprocess_exec(
            "node",
            str(PROVIDER_DIR / "server.js"),
            "0",
            cwd=PROVIDER_DIR,
            env={
                **os.environ,
                "OIDC_CLIENT_ID": CLIENT_ID,
                "OIDC_CLIENT_SECRET": client_secret,
                "OIDC_REDIRECT_URIS": f"{origin}/auth/oidc/callback",
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
        )
        try:
            issuer = await _ready(process, log_path)
            yield LocalProvider(
                issuer=issuer,
                client_id=CLIENT_ID,
                client_secret=client_secret,
                redirect_uri=f"{origin}/auth/oidc/callback",
                console_origin=origin,
                _socket=console,
            )
        finally:
            await _stop(process)


async def _ready(process: asyncio.subprocess.Process, log_path: Path) -> str:
    """The issuer, once ``server.js`` says it listens and its discovery document answers."""
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT_S)
    except TimeoutError:
        line = b""
    if not line.startswith(b"oidc-provider ready "):
        await _stop(process)
        _fail_to_start(line, log_path)
    issuer = line.decode().split()[-1]
    async with httpx2.AsyncClient(timeout=START_TIMEOUT_S) as client:
        response = await client.get(f"{issuer}/.well-known/openid-configuration")
    assert response.status_code == 200, response.text
    assert response.json()["issuer"] == issuer
    return issuer


def _fail_to_start(line: bytes, log_path: Path) -> NoReturn:
    pytest.fail(
        f"the OIDC provider (node server.js) did not start: {line.decode()!r}\n"
        f"{log_path.read_text()[-2000:]}"
    )


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), 10)
    except TimeoutError:
        process.kill()
        await process.wait()
