"""The sessions one gateway pod holds, by (app, executor id). Pure bookkeeping.

Apps are isolated: an executor id is only unique within its app, and whatever id a session of app
B claims, it never replaces, nor is found for, a session of app A.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from streams.ids import AppName, ExecutorId
from streams.records import SessionInfo

if TYPE_CHECKING:
    from gateway.connection import Connection


class SessionRegistry:
    """Live, handshaken sessions of this pod. An executor of an app has at most one; the newest
    wins."""

    def __init__(self) -> None:
        self._by_executor: dict[tuple[AppName, ExecutorId], Connection] = {}
        self._apps_last_held_ms: dict[AppName, int] = {}

    def add(self, conn: Connection) -> Connection | None:
        """Register a session; returns the one it replaces (same app and executor id), if any."""
        key = (conn.app, conn.info.executor_id)
        previous = self._by_executor.get(key)
        self._by_executor[key] = conn
        return previous

    def remove(self, conn: Connection, now_ms: int) -> bool:
        """Forget a session if it is still the executor's current one."""
        self._apps_last_held_ms[conn.app] = now_ms
        if conn.session.info is None:
            return False
        key = (conn.app, conn.info.executor_id)
        if self._by_executor.get(key) is conn:
            del self._by_executor[key]
            return True
        return False

    def get(self, app: AppName, executor_id: ExecutorId) -> Connection | None:
        """The session of ``executor_id`` in ``app``; never one of another app with the same id."""
        return self._by_executor.get((app, executor_id))

    def all(self) -> list[Connection]:
        return list(self._by_executor.values())

    def snapshots_by_app(self, now_ms: int, window_ms: int) -> dict[AppName, list[SessionInfo]]:
        """Sessions grouped by app, including apps whose last session left within the window."""
        grouped: dict[AppName, list[SessionInfo]] = defaultdict(list)
        for conn in self._by_executor.values():
            grouped[conn.app].append(conn.snapshot())
            self._apps_last_held_ms[conn.app] = now_ms
        for app, last_ms in list(self._apps_last_held_ms.items()):
            if app not in grouped and now_ms - last_ms <= window_ms:
                grouped[app] = []
            elif now_ms - last_ms > window_ms:
                del self._apps_last_held_ms[app]
        return dict(grouped)
