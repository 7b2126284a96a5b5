"""The console's ASGI app: the JSON API, the dashboard and its static files, and error answers.

Owns the composition (``create_app``) and what every error looks like: ``{"error": "..."}`` for
the API (and for any client that does not ask for HTML), an escaped HTML page for a browser on a
dashboard page. A 500 never carries exception text: it is logged, not sent. Must not import the
gateway, Faust or Kafka; live executors come in through the ``LiveExecutors`` seam.

The app's lifespan owns the console's background work: the services it is given (the Kafka
channel and its reply reader), then the audit outbox, then the bulk jobs, started in that order
and stopped in reverse (``app.state.background``, a ``ServiceGroup``, fails when one of them
does). Whoever serves the app runs its lifespan: ``console.server`` around uvicorn, asgi-lifespan's
``LifespanManager`` in the tests; without it a bulk job is refused.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Scope, Send

from console.access.csrf import csrf_protection
from console.access.guard import AccessGuard, AccessPolicy
from console.access.sessions import SESSION_COOKIE
from console.access.signin import SignIn
from console.actors import ActorResolver
from console.api.admin import AdminApi
from console.api.management import ManagementApi
from console.api.reads import Api
from console.dashboard.routes import Dashboard, error_page
from console.dashboard.templating import build_environment
from console.detail import DEFAULT_LIVE_TIMEOUT_S, WorkflowLookup
from console.metrics import MetricsPage
from console.oidc.config import OidcConfig
from console.oidc.routes import oidc_routes
from management.actions import DEFAULT_ACTION_TIMEOUT_S, Actions
from management.bulk import BulkJobs
from management.channel import CommandChannel, LiveExecutors
from management.params import BadParameter
from runtime.lifecycle import Service, ServiceGroup
from runtime.metrics import Metrics
from runtime.readiness import Readiness
from store.database import Store
from store.reachability import store_unreachable

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "dashboard" / "static"
DEFAULT_REFRESH_INTERVAL_S = 5.0


def create_app(
    store: Store,
    live: LiveExecutors | None = None,
    *,
    refresh_interval_s: float = DEFAULT_REFRESH_INTERVAL_S,
    live_timeout_s: float = DEFAULT_LIVE_TIMEOUT_S,
    channel: CommandChannel | None = None,
    access: AccessPolicy,
    oidc: OidcConfig | None = None,
    action_timeout_s: float = DEFAULT_ACTION_TIMEOUT_S,
    services: Sequence[Service] = (),
    metrics: Metrics | None = None,
    readiness: Readiness | None = None,
    dbos_conductor_metrics: bool = False,
) -> Starlette:
    """The console's ASGI app over a started store.

    Args:
        store: a started store; every list and count is read from it.
        live: asks a connected executor for a workflow's detail and steps; None: store only.
        refresh_interval_s: how often dashboard pages refresh their data; ``<= 0`` turns it off.
        live_timeout_s: how long a request waits for a live executor before using the store.
        channel: carries operators' actions to executors; None: actions are refused (503).
        access: who may call what (``console.access``): every route but the health check,
            static files and sign-in needs a signed-in user or an API token.
        oidc: single sign-on, mounted at ``/auth/oidc`` (None: off).
        action_timeout_s: how long one attempt of an action waits for the executor.
        services: what the app's lifespan starts first and stops last, e.g. the
            ``KafkaLiveExecutors`` given as ``live`` and ``channel``.
        metrics: what ``/metrics`` serves, with the store's per-app families (None: a fresh
            registry).
        readiness: what ``/healthz`` and ``/readyz`` answer (``runtime.readiness``); None:
            the store alone is checked, on each call.
        dbos_conductor_metrics: ``/metrics`` also serves DBOS Conductor's ``dbos_conductor_v1_``
            families, computed from the store (``store.conductor_metrics``).

    Returns:
        The Starlette app. Its lifespan starts and stops the background work (``services``, the
        audit outbox, the bulk jobs); the caller owns the store.
    """
    lookup = WorkflowLookup(store, live, live_timeout_s=live_timeout_s)
    actions = Actions(store, channel, timeout_s=action_timeout_s)
    bulk = BulkJobs(store, actions)
    actors = ActorResolver()
    env = build_environment()
    dashboard = Dashboard(
        store,
        lookup,
        env,
        refresh_interval_s=refresh_interval_s,
        actions=actions,
        bulk=bulk,
        actors=actors,
        live_timeout_s=live_timeout_s,
    )
    errors = _Errors(env)
    signin = SignIn(store, dashboard.pages, single_sign_on=oidc is not None)
    sso = (
        []
        if oidc is None
        else oidc_routes(
            oidc, signin.on_single_sign_on, on_refused=signin.on_single_sign_on_refused
        )
    )
    management = ManagementApi(store, actions, bulk, actors)
    background = ServiceGroup("console", _background(services, actions, bulk))

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with background:
            yield

    app = Starlette(
        lifespan=lifespan,
        routes=[
            *signin.routes(),
            *sso,
            *Api(store, lookup, readiness).routes(
                first=[*management.routes(), *AdminApi(store).routes()]
            ),
            *dashboard.routes(),
            *MetricsPage(
                store,
                Metrics("console") if metrics is None else metrics,
                dbos_conductor=dbos_conductor_metrics,
            ).routes(),
            Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        middleware=_access_middleware(store, access, errors),
        exception_handlers={
            HTTPException: errors.http,
            BadParameter: errors.bad_parameter,
            Exception: errors.internal,
        },
    )
    app.state.background = background
    app.state.bulk = bulk
    app.state.actions = actions
    app.state.actors = actors
    return app


def _access_middleware(store: Store, access: AccessPolicy, errors: _Errors) -> list[Middleware]:
    """Outermost first: CSRF checks, the signed session, then who the caller is and whether the
    route lets them in (``console.access``)."""

    async def refuse(scope: Scope, send: Send, message: str) -> None:
        response = errors.answer(Request(scope), 403, message)
        await response(scope, _nothing_to_receive, send)

    return [
        Middleware(
            csrf_protection,
            secret=access.cookie_secret,
            refuse=refuse,
            secure=access.secure_cookies,
        ),
        Middleware(
            SessionMiddleware,
            secret_key=access.cookie_secret,
            session_cookie=SESSION_COOKIE,
            max_age=max(1, math.ceil(access.session_lifetime_s)),
            same_site="lax",
            https_only=access.secure_cookies,
        ),
        Middleware(
            AccessGuard, store=store, policy=access, answer=errors.answer, wants_html=wants_html
        ),
    ]


async def _nothing_to_receive() -> Message:
    return {"type": "http.disconnect"}


def _background(
    services: Sequence[Service], actions: Actions, bulk: BulkJobs
) -> list[AbstractAsyncContextManager[object]]:
    """In order of start: the channel first (the others use it), the bulk jobs last."""
    members: list[AbstractAsyncContextManager[object]] = list(services)
    if actions.outbox is not None:
        members.append(actions.outbox)
    members.append(bulk)
    return members


STORE_UNREACHABLE = "the store is unreachable: Baton is degraded; try again shortly"
"""What a request needing the store gets (503) while its database does not answer."""


class _Errors:
    """Error answers: JSON, or an HTML page for a browser on the dashboard."""

    def __init__(self, env: jinja2.Environment) -> None:
        self._env = env

    def answer(
        self,
        request: Request,
        status_code: int,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """An error: an HTML page for a browser on the dashboard, else ``{"error": ...}``."""
        if wants_html(request):
            return error_page(self._env, status_code, message)
        return JSONResponse({"error": message}, status_code=status_code, headers=headers)

    async def http(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return self.answer(request, exc.status_code, exc.detail, exc.headers)

    async def bad_parameter(self, request: Request, exc: Exception) -> Response:
        return self.answer(request, 400, str(exc))

    async def internal(self, request: Request, exc: Exception) -> Response:
        if store_unreachable(exc):
            # Degraded, not broken: /healthz and /readyz say so too (runtime.readiness).
            logger.warning(
                "console: %s %s: the store is unreachable (%s)",
                request.method,
                request.url.path,
                type(exc).__name__,
            )
            return self.answer(request, 503, STORE_UNREACHABLE, {"Retry-After": "5"})
        # The exception text may name tables, hosts or credentials: log it, never send it.
        logger.error("console: %s %s failed", request.method, request.url.path, exc_info=exc)
        return self.answer(request, 500, "internal error")


def wants_html(request: Request) -> bool:
    """Whether the caller is a browser on a dashboard page (not the API, not a script)."""
    path = request.url.path
    if path.startswith("/api/") or path in ("/healthz", "/readyz"):
        return False
    return "text/html" in request.headers.get("accept", "")
