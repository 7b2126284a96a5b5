"""Throttled logging of events that repeat by design: one line per key per window.

Pure: the caller passes the time. Shared by the gateway (refused keys, an unreachable key store)
and the capture agent (failing polls).
"""

from __future__ import annotations


class LogThrottle:
    """Decides when a repeated event is worth a log line: once per key per window.

    For what repeats by design: the DBOS client retries a refused handshake every second forever,
    and the capture retries a failing poll every few seconds.
    """

    def __init__(self, window_ms: int = 60_000, max_keys: int = 10_000) -> None:
        self._window_ms = window_ms
        self._max_keys = max_keys
        self._last_logged: dict[str, int] = {}

    def should_log(self, key: str, now_ms: int) -> bool:
        last = self._last_logged.get(key)
        if last is not None and now_ms - last < self._window_ms:
            return False
        if len(self._last_logged) >= self._max_keys:
            self._last_logged.clear()
        self._last_logged[key] = now_ms
        return True
