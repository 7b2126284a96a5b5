"""The admin API: who may use the console, and which keys let executors into an app.

Read-only: users, tokens and keys are made, changed and revoked with the ``baton users``,
``baton tokens`` and ``baton keys`` commands on the store (which print a secret once); these routes
let an admin see them from anywhere the console is reachable. Nothing secret is ever answered: no
password, token or key, nor their hashes. ``/api/v1/admin/...`` needs the admin role
(``console.access.rules``). Must not import the gateway, Faust or Kafka.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from console.serialize import iso_utc
from management.params import parse_app
from store.database import Store
from store.keys import list_keys
from store.tokens import list_tokens
from store.users import list_users


class UserJson(TypedDict):
    name: str
    role: str
    password_set: bool
    """False: the user signs in with one-time links (``baton users link``) only."""
    created_at: str


class TokenJson(TypedDict):
    name: str
    role: str
    created_at: str
    revoked_at: str | None


class KeyJson(TypedDict):
    key_id: str
    app: str
    name: str | None
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    revoked_at: str | None


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else iso_utc(moment)


class AdminApi:
    """The admin endpoints.

    Args:
        store: a started store.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/api/v1/admin/users", self.users, methods=["GET"]),
            Route("/api/v1/admin/tokens", self.tokens, methods=["GET"]),
            Route("/api/v1/admin/apps/{app}/keys", self.keys, methods=["GET"]),
        ]

    async def users(self, request: Request) -> Response:
        """The console's users, by name.

        ---
        summary: List console users
        tags: [admin]
        errors: [store]
        responses:
          "200":
            description: Every user with their role; never a password or its hash.
            content:
              application/json:
                schema:
                  type: array
                  items: {$ref: "#/components/schemas/UserJson"}
        """
        async with self._store.sessionmaker() as session:
            rows = await list_users(session)
        return JSONResponse(
            [
                UserJson(
                    name=row.name,
                    role=row.role,
                    password_set=row.password_hash is not None,
                    created_at=iso_utc(row.created_at),
                )
                for row in rows
            ]
        )

    async def tokens(self, request: Request) -> Response:
        """The API tokens, by name, revoked ones included.

        ---
        summary: List API tokens
        tags: [admin]
        errors: [store]
        responses:
          "200":
            description: Every token's name and role; never the token or its hash.
            content:
              application/json:
                schema:
                  type: array
                  items: {$ref: "#/components/schemas/TokenJson"}
        """
        async with self._store.sessionmaker() as session:
            rows = await list_tokens(session)
        return JSONResponse(
            [
                TokenJson(
                    name=row.name,
                    role=row.role,
                    created_at=iso_utc(row.created_at),
                    revoked_at=_iso(row.revoked_at),
                )
                for row in rows
            ]
        )

    async def keys(self, request: Request) -> Response:
        """An app's executor keys, oldest first, revoked and expired ones included.

        ---
        summary: List an app's keys
        tags: [admin]
        parameters:
          - $ref: "#/components/parameters/App"
        errors: [invalid, store]
        responses:
          "200":
            description: Every key's id, name and times; never the key or its hash.
            content:
              application/json:
                schema:
                  type: array
                  items: {$ref: "#/components/schemas/KeyJson"}
        """
        app = parse_app(request.path_params["app"])
        async with self._store.sessionmaker() as session:
            rows = await list_keys(session, app)
        return JSONResponse(
            [
                KeyJson(
                    key_id=row.key_id,
                    app=row.app,
                    name=row.name,
                    created_at=iso_utc(row.created_at),
                    expires_at=_iso(row.expires_at),
                    last_used_at=_iso(row.last_used_at),
                    revoked_at=_iso(row.revoked_at),
                )
                for row in rows
            ]
        )
