"""How an operator action (or live query) ends: carried out, or failed and why.

Owns the values the runner (``management.actions``) returns and raises: ``Execution`` (one
operation carried out by executors, before auditing), ``ActionResult`` (an audited success),
``FailureReason`` and ``ActionFailed``. Pure values: no I/O, no HTTP (the console maps a reason to
its HTTP status, ``console.failures``). Must not import the gateway, Faust or Kafka.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from streams.exceptions import ConductorError
from streams.ids import ExecutorId
from streams.records import OperatorAction


class FailureReason(StrEnum):
    """Why an action did not succeed."""

    BAD_REQUEST = "bad_request"
    NO_EXECUTOR = "no_executor"
    NO_SUITABLE_EXECUTOR = "no_suitable_executor"
    EXECUTOR_ERROR = "executor_error"
    TIMEOUT = "timeout"
    VANISHED = "vanished"
    UNAVAILABLE = "unavailable"
    KEY_REUSED = "key_reused"
    PAYLOAD_PRIVACY = "payload_privacy"
    """The action would carry a private app's payloads (export, import, a workflow's events)."""
    UNSUPPORTED = "unsupported"
    """No connected executor's DBOS client supports the request (the message names them)."""
    METADATA_ONLY = "metadata_only"
    """The executor runs in metadata-only mode and refuses requests for a workflow's data."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Execution:
    """How carrying out one operation ended (before auditing)."""

    ok: bool
    result: Any = None
    error: str | None = None
    reason: FailureReason | None = None
    executor_id: ExecutorId | None = None
    attempts: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionResult:
    """An audited action that succeeded; ``replayed`` when its idempotency key had been used."""

    record: OperatorAction
    replayed: bool
    output: Any = None
    """The executor's whole result (an export's blob included); a replay has the audited one."""


class ActionFailed(ConductorError):
    """An action (or live query) that did not succeed.

    Attributes:
        reason: why (the console answers it with ``console.failures.failure_status``).
        record: the audit record, when the failure was audited.
    """

    def __init__(
        self, message: str, *, reason: FailureReason, record: OperatorAction | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.record = record
