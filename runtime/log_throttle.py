"""Throttled logging of events that repeat: one line per key per window, and a count of the rest.

Pure: the caller passes the time. Shared by the gateway (refused keys, an unreachable key store),
the capture agent (failing polls) and the process-wide log filter of ``baton.logs`` (the same
failure logged over and over, e.g. by Kafka clients whose broker went away).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Repeats:
    """Occurrences of a key that were not logged, due for a summary line."""

    key: str
    count: int
    """How many occurrences were held back."""
    span_ms: int
    """Since the key's last line (logged or summary)."""


class LogThrottle:
    """Decides when a repeated event is worth a log line: once per key per window.

    For what repeats by design: the DBOS client retries a refused handshake every second forever,
    and the capture retries a failing poll every few seconds. It also counts what it holds back:
    :meth:`due` hands out those counts once a key's window is over, for a summary line.
    """

    def __init__(self, window_ms: int = 60_000, max_keys: int = 10_000) -> None:
        self._window_ms = window_ms
        self._max_keys = max_keys
        self._last_logged: dict[str, int] = {}
        self._held: dict[str, int] = {}
        """Occurrences held back since the key's last line, for keys with any."""

    def should_log(self, key: str, now_ms: int) -> bool:
        """Whether this occurrence of ``key`` gets a line (else it is counted)."""
        last = self._last_logged.get(key)
        if last is not None and now_ms - last < self._window_ms:
            self._held[key] = self._held.get(key, 0) + 1
            return False
        if len(self._last_logged) >= self._max_keys:
            self._last_logged.clear()
            self._held.clear()
        self._last_logged[key] = now_ms
        self._held.pop(key, None)
        return True

    def due(self, now_ms: int) -> list[Repeats]:
        """Keys whose window is over with occurrences held back, with their counts.

        Each counts as a line for its key: the next window starts now, so an event that keeps
        repeating gets one summary per window.
        """
        found = []
        for key, count in list(self._held.items()):
            last = self._last_logged[key]
            if now_ms - last >= self._window_ms:
                found.append(Repeats(key=key, count=count, span_ms=now_ms - last))
                self._last_logged[key] = now_ms
                del self._held[key]
        return found
