"""Reading DBOS replies: the one rule every verb's reader follows (observability and management).

An executor's reply is untrusted. Each verb's reader (``gateway.queries``, ``gateway.management``)
reads it by this rule:

1. **An error first.** A reply with an ``error_message``, or with ``success: false``, failed:
   ``check`` raises ``ExecutorFailed`` saying ``"<verb> failed on the executor: <message>"`` (or
   ``"... (it answered success=false)"``), the whole text bounded to ``MAX_TEXT_CHARS`` (DBOS
   sends a traceback). The executor's text is never more than that, and never parsed, but for
   two exact answers every open client gives: ``"Unknown message type"`` (its client does not
   know the verb: ``VerbUnsupported``) and ``"<verb> is not allowed in conductor metadata-only
   mode"`` (``DataRefused``).
2. **Fields are read tolerantly.** A field that is absent, or of the wrong type, reads as absent
   (``None``); reading a field never raises:

   - ``text``: a string, its NUL characters replaced by U+FFFD (PostgreSQL text and jsonb cannot
     hold NUL: one would fail a whole batch of the store or an audit row), then cut to its bound
     (``streams.bounds``, saying how much was cut);
   - ``integer``: an integer, or DBOS's ``str(int)`` of one (DBOS sends the numbers of a
     ``WorkflowsOutput`` as strings): ASCII digits only, at most 18; never a boolean;
   - ``workflow_id``: a string of 1 to ``MAX_ID_CHARS`` characters without NUL, kept whole, or
     absent: a cut or repaired id would name another workflow;
   - ``flag``: true only for JSON ``true``.
3. **What a verb cannot do without** is the verb's own reader's call: a ``list_workflows`` reply
   without its list reads as no workflows, a management reply without its result raises
   ``ExecutorFailed``.

Pure: no asyncio, websockets or clock.
"""

from __future__ import annotations

import re

from gateway.protocol import MessageType, Reply
from streams.bounds import WORKFLOW_REF, Bound, bound_text
from streams.exceptions import DataRefused, ExecutorFailed, VerbUnsupported

UNKNOWN_TYPE_ANSWER = "Unknown message type"
"""What DBOS clients answer a type they do not know (Python, TypeScript and Go alike)."""
METADATA_ONLY_ANSWER = " is not allowed in conductor metadata-only mode"
"""The end of what a client in metadata-only mode answers a data request."""

_INTEGER = re.compile(r"-?[0-9]{1,18}")
"""DBOS's ``str(int)``: ASCII digits only (``str.isdigit`` also accepts ``²`` and ``①``)."""


def check(verb: MessageType, reply: Reply) -> None:
    """Raise if the executor answered ``verb`` with an error (rule 1).

    Raises:
        VerbUnsupported: the executor does not know ``verb`` (an ``ExecutorFailed``).
        DataRefused: the executor runs in metadata-only mode (an ``ExecutorFailed``).
        ExecutorFailed: the reply has an ``error_message`` or says ``success: false``.
    """
    if reply.error_message == UNKNOWN_TYPE_ANSWER:
        raise VerbUnsupported(f"the executor does not support {verb.value}")
    if reply.error_message == f"{verb.value}{METADATA_ONLY_ANSWER}":
        raise DataRefused(
            f"the executor runs in DBOS's metadata-only Conductor mode and refuses {verb.value}:"
            " it never sends a workflow's data (inputs, outputs, events, streams) to a conductor;"
            " ask an executor started without metadata-only mode"
        )
    if reply.error_message:
        raise ExecutorFailed(
            bound_text(f"{verb.value} failed on the executor: {reply.error_message}")
        )
    if reply.data.get("success") is False:
        raise ExecutorFailed(f"{verb.value} failed on the executor (it answered success=false)")


def text(value: object, bound: Bound) -> str | None:
    """A string field within ``bound``; ``None`` if it is not a string.

    Text is made NUL-free and cut; an identifier (a ``whole`` bound) is kept whole or not at all.
    """
    if not isinstance(value, str):
        return None
    if bound.whole:
        fits = 0 < len(value) <= bound.max_chars and "\x00" not in value
        return value if fits else None
    return bound.apply(value.replace("\x00", "\ufffd"))


def integer(value: object) -> int | None:
    """An integer field, sent as a number or as DBOS's ``str(int)``; ``None`` otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    return None


def workflow_id(value: object) -> str | None:
    """A workflow id, whole, or ``None`` when empty, too long or holding a NUL."""
    return text(value, WORKFLOW_REF)


def flag(value: object) -> bool:
    """A boolean field: true only for JSON ``true``."""
    return value is True
