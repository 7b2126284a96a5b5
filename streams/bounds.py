"""Bounds on executor-supplied text: errors, tracebacks, inputs, outputs and steps are untrusted.

Every record is bounded where it is read (``streams.codec``), so a consumer never holds more than
these limits whatever an executor sent. A record field declares its bound once, in its metadata
(``Bound``, under the key ``BOUND``): the codec and the gateway's reader of DBOS replies both
apply it.
"""

from __future__ import annotations

from dataclasses import Field, dataclass
from typing import Any

MAX_TEXT_CHARS = 4096
"""Executor-supplied text (errors, tracebacks) is cut to this many characters."""

MAX_PAYLOAD_CHARS = 65_536
"""Workflow inputs and outputs and step outputs (as DBOS serialised them) are cut to this length."""

MAX_STEPS = 1_000
"""At most this many steps of one workflow are captured (DBOS ``list_steps`` limit)."""

MAX_LABEL_CHARS = 256
"""Names and short labels (workflow and queue names, versions, executor ids) are cut to this."""

MAX_STATUS_CHARS = 64
"""A workflow status (``WorkflowState`` or another text DBOS reports) is cut to this."""

MAX_ID_CHARS = 512
"""A workflow id longer than this is not kept: cut, it would name another workflow (or none)."""


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


@dataclass(frozen=True, slots=True)
class Bound:
    """How one text field of a record is bounded wherever it is read."""

    max_chars: int
    whole: bool = False
    """An identifier: kept whole or dropped (``None``) when longer, never cut."""

    def apply(self, text: str | None) -> str | None:
        """``text`` within the bound: cut (``bound_text``), or ``None`` for a too long id.

        Idempotent, as ``bound_text``.
        """
        if text is None or len(text) <= self.max_chars:
            return text
        return None if self.whole else bound_text(text, self.max_chars)


BOUND = "bound"
"""The metadata key of a record field's ``Bound``."""

STATUS = Bound(MAX_STATUS_CHARS)
LABEL = Bound(MAX_LABEL_CHARS)
TEXT = Bound(MAX_TEXT_CHARS)
PAYLOAD = Bound(MAX_PAYLOAD_CHARS)
WORKFLOW_REF = Bound(MAX_ID_CHARS, whole=True)
"""A field naming another workflow (a parent, the origin of a fork)."""


def bound_of(field: Field[Any]) -> Bound | None:
    """The bound a record field declares, if any."""
    bound: Bound | None = field.metadata.get(BOUND)
    return bound
