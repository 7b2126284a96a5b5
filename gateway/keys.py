"""The gateway's ``KeyVerifier`` over the SQL store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from runtime.log_throttle import LogThrottle
from store.database import Store
from store.keys import record_key_use, unusable_keys, verify_key
from store.models import utc_from_ms

KEY_USE_WRITE_INTERVAL_MS = 60_000
"""A key's last-used time is written at most this often per key and pod: a reconnect storm does
not write the store once per handshake."""


class StoreKeys:
    """Checks executor keys against the store (hashed keys; revocation and expiry included) and
    keeps their last-used time."""

    def __init__(self, store: Store) -> None:
        self._store = store
        # LogThrottle's rule, once per key per window, applied to store writes.
        self._uses = LogThrottle(window_ms=KEY_USE_WRITE_INTERVAL_MS)

    async def verify(self, app: str, key: str) -> str:
        async with self._store.sessionmaker() as session:
            return await verify_key(session, app, key)

    async def unusable(self, key_ids: Iterable[str]) -> Mapping[str, str]:
        async with self._store.sessionmaker() as session:
            return await unusable_keys(session, key_ids)

    async def record_use(self, key_id: str, now_ms: int) -> None:
        """Write the key's last-used time, unless this pod wrote it less than a minute ago."""
        if not self._uses.should_log(key_id, now_ms):
            return
        async with self._store.sessionmaker.begin() as session:
            await record_key_use(session, key_id, utc_from_ms(now_ms))
