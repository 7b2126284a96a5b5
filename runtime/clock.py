"""The wall clock, read by the shells only (pure cores take ``now_ms`` as an argument)."""

from __future__ import annotations

import time


def wall_ms() -> int:
    """Milliseconds since the Unix epoch, from this machine's clock."""
    return int(time.time() * 1000)


def monotonic_ms() -> int:
    """Milliseconds of the monotonic clock (for durations: it never jumps)."""
    return int(time.monotonic() * 1000)
