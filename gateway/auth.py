"""Handshake admission: where the key is in the URL, and the key verifier seam.

Pure: no I/O; the key check itself is a seam (``KeyVerifier``) implemented over the store.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote, urlsplit

APP_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """What an executor presents in its URL: ``.../websocket/{app_name}/{key}``."""

    app: str
    key: str

    @property
    def fingerprint(self) -> str:
        """A stable, non-secret id of the presented key, for logs."""
        return hashlib.sha256(self.key.encode()).hexdigest()[:12]


def parse_path(path: str) -> Credentials | None:
    """Find ``/websocket/{app}/{key}`` at the end of the path, under any prefix."""
    parts = [unquote(p) for p in urlsplit(path).path.split("/") if p]
    if len(parts) < 3 or parts[-3] != "websocket":
        return None
    app, key = parts[-2], parts[-1]
    if not APP_NAME.fullmatch(app) or not key or len(key) > 512:
        return None
    return Credentials(app=app, key=key)


class KeyVerifier(Protocol):
    """The store's view of API keys, as the gateway needs it."""

    async def verify(self, app: str, key: str) -> str:
        """Return the key id, or raise ``AuthError`` for an unknown, revoked, expired or
        other-app key."""
        ...

    async def unusable(self, key_ids: Iterable[str]) -> Mapping[str, str]:
        """The keys among ``key_ids`` that may no longer be used, each with why (``revoked``,
        ``expired``)."""
        ...

    async def record_use(self, key_id: str, now_ms: int) -> None:
        """Note a successful handshake with the key (its last-used time); an implementation may
        write it less often."""
        ...
