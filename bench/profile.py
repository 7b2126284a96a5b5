"""Profiling a benchmark's process with ``py-spy record --format raw``, and reading the profile:
where the process spent its samples.

A raw profile is one line per distinct stack, ``frame;frame;...;frame COUNT``, outermost first,
each frame ``function (file:line)``. py-spy is a development tool, not a dependency of Baton:
``pip install py-spy`` to use ``--py-spy`` in the benchmarks.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

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


def start_py_spy(pid: int, out: Path, duration_s: int | None = None) -> subprocess.Popen[bytes]:
    """Profile ``pid`` into ``out`` (raw) until it exits, or for ``duration_s``."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        raise RuntimeError("--py-spy needs py-spy: pip install py-spy (a dev tool, not a dep)")
    args = [exe, "record", "-p", str(pid), "-r", "100", "-f", "raw", "-o", str(out)]
    if duration_s is not None:
        args += ["--duration", str(duration_s)]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
