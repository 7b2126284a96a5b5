"""The gateway's ``KeyVerifier`` over the SQL store."""

from __future__ import annotations

from collections.abc import Iterable

from store.database import Store
from store.keys import revoked_key_ids, verify_key


class StoreKeys:
    """Checks executor keys against the store (hashed keys; revocation included)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def verify(self, app: str, key: str) -> str:
        async with self._store.sessionmaker() as session:
            return await verify_key(session, app, key)

    async def revoked(self, key_ids: Iterable[str]) -> set[str]:
        async with self._store.sessionmaker() as session:
            return await revoked_key_ids(session, key_ids)
