"""Bounds on executor-supplied text: errors, tracebacks, inputs, outputs and steps are untrusted.

Every record is bounded where it is read (``streams.codec``), so a consumer never holds more than
these limits whatever an executor sent.
"""

from __future__ import annotations

MAX_TEXT_CHARS = 4096
"""Executor-supplied text (errors, tracebacks) is cut to this many characters."""

MAX_PAYLOAD_CHARS = 65_536
"""Workflow inputs and outputs and step outputs (as DBOS serialised them) are cut to this length."""

MAX_STEPS = 1_000
"""At most this many steps of one workflow are captured (DBOS ``list_steps`` limit)."""


def bound_text(text: str | None, limit: int = MAX_TEXT_CHARS) -> str | None:
    """Cut untrusted text to at most ``limit`` characters, saying at the cut how much went.

    Idempotent: a text already cut is at most ``limit`` long, so it passes unchanged (records are
    bounded where they are read, then decoded again by every consumer).
    """
    if text is None or len(text) <= limit:
        return text
    # The marker's length depends on the count it prints; size it for the largest count.
    keep = max(0, limit - len(f"... [{len(text)} more characters cut]"))
    return text[:keep] + f"... [{len(text) - keep} more characters cut]"
