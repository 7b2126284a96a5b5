"""Dealing a run of numbers (executors, workflows) over several parts (pods, client processes,
executors): each part a contiguous run, none more than a ceiling share."""

from __future__ import annotations


def share(first: int, count: int, part: int, parts: int) -> tuple[int, int]:
    """Part ``part`` (of ``parts``) of the ``count`` numbers from ``first``: its (first, count),
    the count 0 when nothing is left for it."""
    step = -(-count // parts)
    start = first + part * step
    return start, max(0, min(step, first + count - start))
