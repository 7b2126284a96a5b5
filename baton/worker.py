"""The ``baton worker`` role: one Faust worker running the recovery agent and the projection."""

from __future__ import annotations

import logging
from typing import Any

import faust

from baton.settings import Settings
from recovery.agent import RecoveryAgent
from store.database import Store
from store.projection import project_app_state, record_audit
from streams.app import create_worker_app
from streams.liveness import AppState
from streams.records import RecoveryDecision

logger = logging.getLogger(__name__)


class StoreProjection:
    """Writes app states and recovery decisions into the SQL store (idempotent upserts)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def project(self, states: list[AppState], decisions: list[RecoveryDecision]) -> None:
        async with self._store.sessionmaker.begin() as session:
            for state in states:
                await project_app_state(session, state)
            if decisions:
                await record_audit(session, decisions)


def run_worker(settings: Settings) -> None:
    """Run the Faust worker until SIGINT/SIGTERM; exits the process (Faust's worker does)."""
    worker_app = create_worker_app(bootstrap=settings.require_kafka(), topics=settings.topics)
    store = Store(settings.store_url())
    RecoveryAgent(worker_app, settings.timings, StoreProjection(store))
    app: Any = worker_app.app

    @app.task  # type: ignore[untyped-decorator]
    async def open_store() -> None:
        await store.start()

    async def close_store(*args: Any, **kwargs: Any) -> None:
        await store.stop()

    app.on_before_shutdown.connect(close_store)
    worker = faust.Worker(
        app,
        loglevel=settings.log_level,
        override_logging=False,
        redirect_stdouts=False,
        quiet=True,
    )
    logger.info("worker starting (broker %s)", settings.kafka_bootstrap)
    worker.execute_from_commandline()
