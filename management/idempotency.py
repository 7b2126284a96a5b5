"""Acting once per key: the ``Idempotency-Key`` rules of operators' actions.

Owns the key's shape, the id of the workflow a fork or restart creates (fixed by the key, so a
retried fork cannot make a second workflow), and what a repeated key answers: the first outcome
when it named the same action and target, else a refusal (``key_reused``). Pure: no I/O. Must not
import the gateway, Faust or Kafka.
"""

from __future__ import annotations

import re
import uuid

from management.operations import Operation
from management.outcomes import ActionFailed, ActionResult, FailureReason
from streams.records import ActionOutcome, OperatorAction

_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_FORK_NAMESPACE = uuid.UUID("5b0a7c3e-7f39-4f0e-9a53-0b7a7e1d2c41")


def check_idempotency_key(key: str) -> str:
    """Check an ``Idempotency-Key``: 1 to 128 of ``[A-Za-z0-9_.:-]``.

    Raises:
        ActionFailed: (bad_request) the key has another shape.
    """
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ActionFailed(
            "the Idempotency-Key must be 1 to 128 characters of letters, digits, '_', '.', ':' "
            "and '-'",
            reason=FailureReason.BAD_REQUEST,
        )
    return key


def derived_workflow_id(app: str, action_id: str) -> str:
    """The id of the workflow a fork or restart creates when the caller named none: fixed by the
    action's idempotency key, so a retried fork cannot make a second workflow."""
    return str(uuid.uuid5(_FORK_NAMESPACE, f"{app}/{action_id}"))


def replayed(stored: OperatorAction, operation: Operation) -> ActionResult:
    """The answer to a key already used: the stored action's outcome, if it was this operation.

    Raises:
        ActionFailed: the key named another action or target (``key_reused``, not audited again),
            or the stored action failed (its reason and record).
    """
    if stored.action != operation.action or stored.target != operation.target:
        raise ActionFailed(
            f"this Idempotency-Key was already used for {stored.action} on {stored.target!r}; "
            "use a new key for a new action",
            reason=FailureReason.KEY_REUSED,
        )
    if stored.outcome is not ActionOutcome.SUCCEEDED:
        raise ActionFailed(
            stored.error or "the action failed",
            reason=_stored_reason(stored),
            record=stored,
        )
    return ActionResult(record=stored, replayed=True, output=stored.result)


def _stored_reason(record: OperatorAction) -> FailureReason:
    reason = str((record.result or {}).get("reason"))
    try:
        return FailureReason(reason)
    except ValueError:
        return FailureReason.EXECUTOR_ERROR
