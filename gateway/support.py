"""Which DBOS verbs each client release supports: a request its client lacks is not sent.

An executor says which client it runs in its ``executor_info`` reply (``language``,
``dbos_version``; ``streams.dbos_clients``). ``GAPS`` lists the verbs a release lacks: a request
the executor's client cannot answer is refused at once, naming the client and version
(``missing_verb``), instead of being sent. This matters most where a client does not answer an
unknown type at all (Java 1.1.0-m6 reads the type into an enum that has no value
for it, so no answer is to be counted on). A client not in
the table is asked, and its "Unknown message type" reply means the same (``gateway.replies``).

Ground truth for the gaps, read from each client's source:

- Python ``dbos`` 2.31.1: ``dbos/_conductor/protocol.py`` ``MessageType`` has no
  ``rewind_workflow`` (3.2.0's has it, with ``RewindWorkflowRequest``); ``conductor.py`` answers
  an unknown type with ``BaseResponse(error_message="Unknown message type")``.
- TypeScript ``@dbos-inc/dbos-sdk`` 5.2.11: ``dist/src/conductor/conductor.js`` handles every
  verb Baton sends (``REWIND_WORKFLOW`` included; not ``restart``, which Baton never sends: a
  restart is a fork from step 0).
- Go ``dbos-transact-golang`` v1.6.0: ``dbos/conductor.go`` handles every verb Baton sends
  (``handleRewindWorkflowRequest``).
- Java ``dev.dbos:transact`` 1.1.0-m6: ``dev/dbos/transact/conductor/protocol/MessageType.class``
  has no ``REWIND_WORKFLOW`` (``fromValue`` answers null for an unknown type).

Metadata-only mode (Python 3.2, TypeScript 5.2, Go 1.6; ``DATA_MESSAGE_TYPES`` in each) refuses
export, import, events, notifications and streams with ``"<type> is not allowed in conductor
metadata-only mode"``; ``gateway.replies`` reads that as ``DataRefused``.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.protocol import MessageType
from streams.dbos_clients import client_name, version_key
from streams.records import ExecutorInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class Gap:
    """A verb the releases of one client up to ``through`` do not support."""

    language: str
    verb: MessageType
    through: str
    """The newest release known to lack it (older ones lack it too)."""
    instead: str
    """What the operator can do instead."""


_FORK_INSTEAD = "fork it from that step instead (a new workflow id)"

GAPS: tuple[Gap, ...] = (
    Gap(
        language="python", verb=MessageType.REWIND_WORKFLOW, through="2.31.1", instead=_FORK_INSTEAD
    ),
    Gap(
        language="java", verb=MessageType.REWIND_WORKFLOW, through="1.1.0-m6", instead=_FORK_INSTEAD
    ),
)


def missing_verb(info: ExecutorInfo, verb: MessageType) -> str | None:
    """Why the executor cannot be asked ``verb`` (None: it may be).

    Only a known gap refuses; an unknown language or version is asked (its answer decides).
    """
    if info.language is None or info.dbos_version is None:
        return None
    for gap in GAPS:
        if gap.language != info.language or gap.verb is not verb:
            continue
        if version_key(info.dbos_version) <= version_key(gap.through):
            return f"{client_name(info)} does not support {verb.value}; {gap.instead}"
    return None


def unsupported_reply(info: ExecutorInfo, verb: MessageType) -> str:
    """What to say when the executor answered ``verb`` with "Unknown message type"."""
    return f"{client_name(info)} does not support {verb.value} (it answered: unknown message type)"
