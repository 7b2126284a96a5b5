"""The console's HTTP JSON API: a Starlette app over the store's projections.

Owns routes, their status codes and error bodies; the row-to-JSON shapes live in
``console.serialize``. Every error body is ``{"error": "..."}`` and never carries exception text
from the store. Must not import the gateway, Faust or Kafka.
"""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from console.serialize import app_json, executor_json, recovery_json
from store.database import Store
from store.models import validate_app_name
from store.projection import list_apps, list_executors, list_recoveries
from streams.records import AppName

logger = logging.getLogger(__name__)

RECOVERIES_LIMIT = 100


class _BadAppName(Exception):
    """The ``{app}`` path parameter is not a valid app name (answered with 400)."""


def create_app(store: Store) -> Starlette:
    """The console's ASGI app, reading from a started ``store``."""

    async def executors(request: Request) -> Response:
        app = _app_param(request)
        async with store.sessionmaker.begin() as session:
            rows = await list_executors(session, app)
        return JSONResponse([executor_json(row) for row in rows])

    async def recoveries(request: Request) -> Response:
        app = _app_param(request)
        async with store.sessionmaker.begin() as session:
            rows = await list_recoveries(session, app, limit=RECOVERIES_LIMIT)
        return JSONResponse([recovery_json(row) for row in rows])

    async def apps(request: Request) -> Response:
        async with store.sessionmaker.begin() as session:
            summaries = await list_apps(session)
        return JSONResponse([app_json(summary) for summary in summaries])

    async def healthz(request: Request) -> Response:
        try:
            async with store.sessionmaker.begin() as session:
                await session.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError):
            logger.warning("health check: the store is unreachable", exc_info=True)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/api/v1/apps", apps, methods=["GET"]),
            Route("/api/v1/apps/{app}/executors", executors, methods=["GET"]),
            Route("/api/v1/apps/{app}/recoveries", recoveries, methods=["GET"]),
        ],
        exception_handlers={
            HTTPException: _http_error,
            _BadAppName: _bad_app_name,
            Exception: _internal_error,
        },
    )


def _app_param(request: Request) -> AppName:
    try:
        return validate_app_name(request.path_params["app"])
    except ValueError as exc:
        raise _BadAppName(str(exc)) from exc


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _bad_app_name(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=400)


async def _internal_error(request: Request, exc: Exception) -> Response:
    # The exception text may name tables, hosts or credentials: log it, never send it.
    logger.error("console: %s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"error": "internal error"}, status_code=500)
