"""``GET /metrics``: the console's metrics and, per app, the workflow and executor families
computed from the store (``store.app_metrics``), anonymous like the health check
(``console.access.rules``). With ``dbos_conductor`` (``BATON_CONSOLE_DBOS_CONDUCTOR_METRICS=1``),
also DBOS Conductor's ``dbos_conductor_v1_`` families, from the store too
(``store.conductor_metrics``).

The store is read at most once every ``max_age_s`` (a few seconds): scrapes in between, from
several Prometheus servers say, are served the last reading. When the store cannot be read, the
last reading stays and ``baton_errors_total{kind="store"}`` counts it.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runtime.clock import wall_ms
from runtime.metrics import (
    APP_FAMILIES,
    CONTENT_TYPE,
    DBOS_CONDUCTOR_FAMILIES,
    ErrorKind,
    Metrics,
    Samples,
)
from store.app_metrics import read_app_metrics
from store.conductor_metrics import Reading, read_conductor_metrics
from store.database import Store

logger = logging.getLogger(__name__)

DEFAULT_MAX_AGE_S = 2.0


class MetricsPage:
    """The ``/metrics`` route of the console over ``metrics`` and ``store``; ``dbos_conductor``
    adds the ``DBOS_CONDUCTOR_FAMILIES``."""

    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        *,
        dbos_conductor: bool = False,
    ):
        self._store = store
        self._metrics = metrics
        self._max_age_s = max_age_s
        self._dbos_conductor = dbos_conductor
        self._samples: dict[str, Samples] = {}
        self._conductor = Reading()
        self._read_at: float | None = None
        self._lock = asyncio.Lock()
        metrics.add_snapshot(APP_FAMILIES, lambda: self._samples)
        if dbos_conductor:
            metrics.add_snapshot(
                DBOS_CONDUCTOR_FAMILIES,
                lambda: self._conductor.samples,
                lambda: self._conductor.window_start_s,
            )

    def routes(self) -> list[Route]:
        return [Route("/metrics", self.page, methods=["GET"])]

    async def page(self, request: Request) -> Response:
        await self.refresh()
        return Response(self._metrics.exposition(), media_type=CONTENT_TYPE)

    async def refresh(self) -> None:
        """Read the store unless the last reading is younger than ``max_age_s``."""
        async with self._lock:
            now = time.monotonic()
            if self._read_at is not None and now - self._read_at < self._max_age_s:
                return
            self._read_at = now
            try:
                now_ms = wall_ms()
                async with self._store.sessionmaker() as session:
                    self._samples = await read_app_metrics(session, now_ms)
                    if self._dbos_conductor:
                        self._conductor = await read_conductor_metrics(session, now_ms)
            except (SQLAlchemyError, OSError):
                self._metrics.error(ErrorKind.STORE)
                logger.warning("metrics: the store could not be read", exc_info=True)
