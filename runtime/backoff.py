"""Exponential backoff for restarting what died: the pause before the next restart doubles from
``initial_s`` up to ``max_s``, and starts over once the restarted thing stayed up ``reset_after_s``.

Pure: the caller passes how long the thing ran. Used by ``baton up``'s supervisor for its roles
and its embedded broker.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class BackoffPolicy:
    """The restart pauses."""

    initial_s: float = 0.5
    """Pause before the first restart (and after one that stayed up ``reset_after_s``)."""
    max_s: float = 30.0
    """Longest pause: something that keeps dying is retried this often, forever."""
    reset_after_s: float = 60.0
    """Up this long, and a death is a first death again."""


class RestartBackoff:
    """The pauses of one restarted thing.

    Args:
        policy: the pauses.
    """

    def __init__(self, policy: BackoffPolicy | None = None) -> None:
        self.policy = policy or BackoffPolicy()
        self._next_s = self.policy.initial_s
        self.failures_in_a_row = 0
        """Deaths since the last one that came after a stable run (1 for a first death)."""

    def after_death(self, uptime_s: float) -> float:
        """The pause before restarting something that died after running ``uptime_s``."""
        if uptime_s >= self.policy.reset_after_s:
            self._next_s = self.policy.initial_s
            self.failures_in_a_row = 0
        pause_s = self._next_s
        self.failures_in_a_row += 1
        self._next_s = min(self._next_s * 2, self.policy.max_s)
        return pause_s

    @property
    def at_max(self) -> bool:
        """Whether the pauses have reached ``max_s`` (the thing keeps dying)."""
        return self._next_s >= self.policy.max_s
