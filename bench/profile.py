"""Reading a ``py-spy record --format raw`` profile: where a process spent its samples.

A raw profile is one line per distinct stack, ``frame;frame;...;frame COUNT``, outermost first,
each frame ``function (file:line)``. py-spy is a development tool, not a dependency of Baton:
``pip install py-spy`` to use ``--py-spy`` in the benchmarks.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def hot_functions(lines: Iterable[str], packages: tuple[str, ...]) -> list[tuple[str, float]]:
    """Share of all samples spent in (inclusive of callees) each function of ``packages``
    (file paths starting with one of them, e.g. ``"streams/"``), most first. A function
    counts once per stack however often it recurses; line numbers are merged."""
    inclusive: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count_text = line.rstrip("\n").rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        seen = set()
        for frame in stack.split(";"):
            match = _FRAME.match(frame)
            if match is None or not match["file"].startswith(packages):
                continue
            name = f"{match['file']}:{match['function']}"
            if name not in seen:
                seen.add(name)
                inclusive[name] += count
    if total == 0:
        return []
    return [(name, count / total) for name, count in inclusive.most_common()]
