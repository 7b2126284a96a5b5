"""The Faust worker of the agents' tests, run in-process on the session's embedded broker.

``worker_app`` declares the app on fresh topics (as ``baton worker`` does, without its store: its
producer idempotent where the broker grants it); a test wires the agents it tests onto it, then
runs it with ``started``. The store's place is taken by recording projections (real classes
implementing the agents' seams). The fixtures are in ``tests/integration/conftest.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

from broker.admin import ensure_topics
from broker.faust_app import WorkerApp, create_worker_app
from broker.idempotence import IdempotenceSetting, producer_idempotence
from recovery.state import AppState
from streams.ids import AppName
from streams.records import RecoveryDecision, WorkflowDeleted, WorkflowStatus, WorkflowSteps
from streams.topics import Topics


async def worker_app(bootstrap: str, prefix: str, datadir: Path) -> WorkerApp:
    """A worker app (not started) on fresh topics of one partition: every record of a test is
    read in the order it was published."""
    topics = Topics(prefix=prefix, partitions=1)
    await ensure_topics(bootstrap, topics.specs())
    # As `baton worker` decides: idempotent on Apache Kafka, not on the embedded broker.
    idempotent = await producer_idempotence(bootstrap, IdempotenceSetting.AUTO)
    worker = create_worker_app(
        bootstrap=bootstrap, topics=topics, datadir=datadir, idempotent_producer=idempotent
    )
    await ensure_topics(bootstrap, worker.changelog_specs())
    return worker


@contextlib.asynccontextmanager
async def started(worker: WorkerApp) -> AsyncIterator[WorkerApp]:
    """Run the worker's Faust app for the duration of the block (started as ``baton worker``
    starts it: after the group join and table recovery)."""
    await worker.app.start()
    try:
        yield worker
    finally:
        await worker.app.stop()


class RecordingProjection:
    """The recovery agent's ``Projection``: keeps what it is given (the changed part of each app
    state, as the store's upserts get it) and the store's view of each app (``latest``)."""

    def __init__(self) -> None:
        self.states: list[AppState] = []
        self.decisions: list[RecoveryDecision] = []
        self.latest: dict[AppName, AppState] = {}

    async def project(self, states: list[AppState], decisions: list[RecoveryDecision]) -> None:
        self.states.extend(states)
        self.decisions.extend(decisions)
        for state in states:
            known = self.latest.get(state.app, AppState(app=state.app))
            self.latest[state.app] = replace(
                state,
                executors={**known.executors, **state.executors},
                recoveries={**known.recoveries, **state.recoveries},
            )


class RecordingWorkflowProjection:
    """The workflow agent's ``WorkflowProjection``: keeps what it is given; while ``down`` it
    fails as an unreachable store does, and keeps the deletions it refused."""

    def __init__(self) -> None:
        self.down = False
        self.statuses: list[WorkflowStatus] = []
        self.steps: list[WorkflowSteps] = []
        self.deletions: list[WorkflowDeleted] = []
        self.refused: list[WorkflowDeleted] = []

    async def project_workflows(
        self,
        statuses: list[WorkflowStatus],
        steps: list[WorkflowSteps],
        deletions: list[WorkflowDeleted],
    ) -> None:
        if self.down:
            self.refused.extend(deletions)
            raise ConnectionRefusedError("the store is down")
        self.statuses.extend(statuses)
        self.steps.extend(steps)
        self.deletions.extend(deletions)
