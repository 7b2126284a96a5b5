"""The ``baton worker`` role: one Faust worker running the recovery agent and the projection.

Runs the Faust app on our own event loop (``app.start()`` / ``app.stop()``) rather than through
``faust.Worker``, which installs its own signal handlers and writes terminal escapes: SIGTERM is
handled once, in the CLI. The Faust app is one ``runtime.lifecycle`` service (``Worker``): when it
stops on its own (Faust crashed), the worker has failed and the role exits non-zero.

The worker serves no HTTP of its own: a small listener (``runtime.probes_http``) answers
``/metrics``, ``/healthz`` and ``/readyz`` on ``worker_host:worker_port`` (127.0.0.1:8091 by
default).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from baton.data_dir import WORKER_DIR, prepare_data_dir
from baton.settings import Settings
from broker.admin import cluster_size, ensure_topics, replication_for
from broker.auto_create import forbid_topic_auto_creation
from broker.faust_app import WorkerApp, create_worker_app
from broker.faust_metrics import add_faust_metrics
from broker.idempotence import producer_idempotence
from broker.reachability import kafka_check
from broker.rebootstrap import rebootstrap_when_brokers_are_lost
from capture.agent import CaptureAgent
from capture.cursor import CaptureTimings
from capture.workflow_agent import WorkflowAgent
from recovery.agent import RecoveryAgent
from recovery.state import AppState
from runtime.clock import wall_ms
from runtime.lifecycle import Service, run_until
from runtime.metrics import ErrorKind, Metrics
from runtime.probes_http import ProbeRoutes, ProbeServer, metrics_route
from runtime.readiness import Readiness
from store.app_settings import StorePrivateApps
from store.audit import record_audit
from store.database import Store
from store.liveness_seed import liveness_seeds
from store.projection import project_app_state
from store.reachability import store_check
from store.workflow_projection import apply_workflow_events
from streams.exceptions import RoleFailed
from streams.ids import AppName
from streams.records import (
    ACTIVE_STATES,
    RecoveryDecision,
    WorkflowDeleted,
    WorkflowStatus,
    WorkflowSteps,
)

logger = logging.getLogger(__name__)


class StoreProjection:
    """Writes app states, recovery decisions and workflow news into the SQL store (idempotent
    upserts: a replayed or duplicated batch changes nothing), timing each write and counting
    its failures (``metrics``)."""

    def __init__(self, store: Store, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics

    @asynccontextmanager
    async def _measured(self, operation: str) -> AsyncIterator[None]:
        started = time.monotonic()
        try:
            yield
        except Exception:
            self._metrics.error(ErrorKind.STORE)
            raise
        self._metrics.store_write_seconds.labels(operation=operation).observe(
            time.monotonic() - started
        )

    async def project(self, states: list[AppState], decisions: list[RecoveryDecision]) -> None:
        async with self._measured("app_state"), self._store.sessionmaker.begin() as session:
            for state in states:
                await project_app_state(session, state)
            if decisions:
                await record_audit(session, decisions)

    async def project_workflows(
        self,
        statuses: list[WorkflowStatus],
        steps: list[WorkflowSteps],
        deletions: list[WorkflowDeleted],
    ) -> None:
        async with self._measured("workflows"), self._store.sessionmaker.begin() as session:
            await apply_workflow_events(session, statuses, steps, deletions)
        now_ms = wall_ms()
        for status in statuses:
            # Listed as completed now; DBOS's updated_at is when it completed.
            if status.status not in ACTIVE_STATES and status.updated_at_ms is not None:
                self._metrics.capture_lag_seconds.observe(
                    max(0, now_ms - status.updated_at_ms) / 1000
                )


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Run the Faust worker until ``stop`` is set.

    Raises:
        RoleFailed: the Faust app stopped on its own.
    """
    bootstrap = settings.require_kafka()
    forbid_topic_auto_creation()
    rebootstrap_when_brokers_are_lost()
    # Before Faust touches a topic: Tansu auto-creates unknown topics with 4 partitions.
    await ensure_topics(bootstrap, settings.topics.specs())
    prepare_data_dir(settings.data_dir)
    worker_app = create_worker_app(
        bootstrap=bootstrap,
        topics=settings.topics,
        datadir=settings.data_dir / WORKER_DIR,
        replication=replication_for(await cluster_size(bootstrap)),
        idempotent_producer=await producer_idempotence(bootstrap, settings.kafka_idempotence),
    )
    await ensure_topics(bootstrap, worker_app.changelog_specs())
    metrics = Metrics("worker")
    async with Store(settings.store_url()) as store:
        readiness = Readiness(
            "worker",
            {
                "kafka": kafka_check(bootstrap, [spec.name for spec in settings.topics.specs()]),
                "store": store_check(store),
            },
        )
        routes = ProbeRoutes.of(readiness)
        routes.add("/metrics", metrics_route(metrics))
        probes = ProbeServer(routes, settings.worker_host, settings.worker_port)
        async with store.sessionmaker.begin() as session:
            seeds = await liveness_seeds(session, wall_ms())
        worker = Worker(worker_app, settings, store, metrics, seeds)
        async with probes, readiness, worker:
            readiness.watch(worker.liveness)
            logger.info(
                "worker ready: consuming %s; metrics on http://%s:%d/metrics",
                settings.topics.executor_events,
                settings.worker_host,
                probes.port,
            )
            await run_until(stop, worker)


class Worker(Service):
    """The Faust app and its agents (recovery, capture, workflow table) over the store;
    ``seeds``: the apps' liveness for those whose table is empty (``store.liveness_seed``).

    Its start returns after the group join and table recovery; it fails when the app stops on
    its own.
    """

    def __init__(
        self,
        worker_app: WorkerApp,
        settings: Settings,
        store: Store,
        metrics: Metrics,
        seeds: dict[AppName, AppState] | None = None,
    ) -> None:
        super().__init__("worker")
        add_faust_metrics(worker_app.app, metrics)
        projection = StoreProjection(store, metrics)
        recovery = RecoveryAgent(
            worker_app, settings.timings, projection, metrics=metrics, seeds=seeds
        )
        CaptureAgent(
            worker_app,
            recovery,  # the capture poller reads the recovery agent's liveness view
            CaptureTimings(
                interval_ms=settings.capture_interval_ms,
                idle_interval_ms=settings.capture_idle_interval_ms,
                steps_budget=settings.capture_steps_per_poll,
            ),
            StorePrivateApps(store),  # which apps have payload privacy on
        )
        WorkflowAgent(worker_app, projection)
        self._app = worker_app.app

    async def _start(self, stack: AsyncExitStack) -> None:
        stack.callback(logger.info, "worker stopped")
        await self._app.start()
        stack.push_async_callback(self._app.stop)
        self.tasks.loop("faust app", self._watch())

    def liveness(self) -> str | None:
        """``None`` while the Faust app runs, else what stopped (for ``/healthz``)."""
        if self.failure is not None:
            return f"the worker failed: {self.failure}"
        if self.running and self._app.should_stop:
            return "the Faust app is stopping"
        return None

    async def _watch(self) -> None:
        await self._app.wait_until_stopped()
        raise RoleFailed(f"the Faust app stopped on its own: {self._app.crash_reason!r}")
