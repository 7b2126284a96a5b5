"""The dashboard's Jinja2 adapter: the environment, its filters, and page or region rendering.

Owns the one ``import jinja2`` of the console. Autoescaping is on for every template and
undefined names fail loudly: executor-supplied text (inputs, outputs, errors, tracebacks) is
untrusted and reaches the page only escaped, never through ``|safe`` or ``Markup``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2

from console.serialize import iso_from_ms

TEMPLATES_DIR = Path(__file__).parent / "templates"


def build_environment(directory: Path = TEMPLATES_DIR) -> jinja2.Environment:
    """The dashboard's template environment, with autoescape forced on."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        {
            "seg": path_segment,
            "iso_ms": iso_from_ms,
            "when_ms": when_ms,
            "duration_ms": duration_text,
            "ago_ms": ago_text,
            "headline": headline,
        }
    )
    env.globals["qs"] = query_string
    # Who is signed in, and the form token: ``Pages.render`` sets them per request; a page
    # rendered without a request (an error page) shows no user and no forms.
    env.globals.update({"identity": None, "can_act": False, "csrftoken": ""})
    return env


def render_page(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    """A whole page."""
    return env.get_template(name).render(context)


def render_region(
    env: jinja2.Environment, name: str, block: str, context: Mapping[str, Any]
) -> str:
    """One block of a page (the live-refresh region), rendered on its own."""
    template = env.get_template(name)
    return "".join(template.blocks[block](template.new_context(dict(context))))


def path_segment(value: object) -> str:
    """A value percent-encoded as one URL path segment (a workflow id may hold ``/`` or ``?``)."""
    return quote(str(value), safe="")


def query_string(params: Mapping[str, object]) -> str:
    """``?a=1&b=2`` from the non-empty values of ``params`` (sequences repeat the name)."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        values = value if isinstance(value, list | tuple) else [value]
        pairs.extend((key, str(v)) for v in values if v is not None and v != "")
    return "?" + urlencode(pairs) if pairs else ""


def headline(text: str, limit: int = 160) -> str:
    """The telling line of an error for a table cell: a traceback's last line, else the first."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[-1] if lines[0].startswith("Traceback") else lines[0]
    return line if len(line) <= limit else line[: limit - 1] + "\u2026"


def when_ms(epoch_ms: int | None) -> str:
    """An epoch-ms time for people: ``2024-05-01 12:00:00.123 UTC``; an em dash when unknown."""
    iso = iso_from_ms(epoch_ms)
    return "\u2014" if iso is None else iso.replace("T", " ").replace("Z", " UTC")


def duration_text(ms: int | None) -> str:
    """A duration for people: ``850 ms``, ``12.3 s``, ``4 min 05 s``, ``2 h 03 min``, ``3 d 04 h``.

    Args:
        ms: the duration in milliseconds; None is shown as an em dash.
    """
    if ms is None:
        return "\u2014"
    if ms < 1_000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    seconds = ms // 1000
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    if seconds < 86_400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 86_400} d {seconds % 86_400 // 3600:02d} h"


def ago_text(then_ms: int | None, now_ms: int) -> str:
    """How long ago ``then_ms`` was, seen at ``now_ms``: ``just now``, ``12 s ago``..."""
    if then_ms is None:
        return "\u2014"
    elapsed = now_ms - then_ms
    if elapsed < 1_000:
        return "just now"
    return f"{duration_text(elapsed)} ago"
