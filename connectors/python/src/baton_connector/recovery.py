"""How this connector recovers another executor's PENDING workflows, per DBOS minor version.

The Conductor ``recovery`` verb asks an executor to take over the PENDING workflows of dead
executors. DBOS has no public call for it: the stock client calls the private
``DBOS._recover_pending_workflows(executor_ids)``, which re-enqueues each workflow that is still
PENDING *and still owned by the dead executor* (the update is conditional on its executor id, so a
duplicate or late request changes nothing) and keeps its recovery attempts, deadline and
deduplication id.

The public substitute lists the dead executor's PENDING workflows of this application version
and ``DBOS.resume_workflows`` each onto its original queue. It is weaker: not conditional on the
executor id (a workflow another executor already took over is resumed again), and it resets
``recovery_attempts`` and clears the deadline and the deduplication id.

``STRATEGY_BY_MINOR`` names the path tested for each DBOS minor version the connector declares;
an undeclared version, or a release without the private call, takes the public path.

Pure: imports nothing.
"""

from __future__ import annotations

from enum import Enum


class Strategy(str, Enum):
    """How ``recovery`` is served."""

    PRIVATE_RECOVER = "private_recover"
    """``DBOS._recover_pending_workflows(executor_ids)``: what the stock client does."""
    PUBLIC_RESUME = "public_resume"
    """``DBOS.list_workflows`` + ``DBOS.resume_workflows`` (see the module docstring)."""


STRATEGY_BY_MINOR: dict[tuple[int, int], Strategy] = {
    (3, 3): Strategy.PRIVATE_RECOVER,
    (3, 4): Strategy.PRIVATE_RECOVER,
}
"""The conformance tier runs recovery through the connector on each of these versions."""


def minor_of(version: str) -> tuple[int, int] | None:
    """``(major, minor)`` of a version string like ``3.4.0``; ``None`` if it is not one."""
    parts = version.split(".")
    if len(parts) < 2 or not (parts[0].isdigit() and parts[1].isdigit()):
        return None
    return int(parts[0]), int(parts[1])


def choose(dbos_version: str, *, has_private_call: bool) -> Strategy:
    """The strategy for ``dbos_version``: the table's, or the public path when the version is
    not in it or the private call is missing."""
    minor = minor_of(dbos_version)
    strategy = STRATEGY_BY_MINOR.get(minor) if minor is not None else None
    if strategy is Strategy.PRIVATE_RECOVER and has_private_call:
        return strategy
    return Strategy.PUBLIC_RESUME
