"""What the admin commands print: aligned plain-text tables, times in UTC to the second."""

from __future__ import annotations

from datetime import UTC, datetime


def print_table(headers: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    """``rows`` under ``headers``, each column as wide as its widest cell."""
    cells = [tuple(str(c) for c in headers), *[tuple(str(c) for c in row) for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def when(at: datetime | None) -> str:
    """A stored time for a table: UTC to the second (``2030-01-31T12:00:00Z``), or blank."""
    if at is None:
        return ""
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
