"""Credentials for tests that call the console: its access policy with a fixed cookie secret, and
API tokens made in the test's store (one plaintext per store and name, made once)."""

from __future__ import annotations

from collections.abc import Mapping
from weakref import WeakKeyDictionary

from sqlalchemy import delete
from starlette.types import ASGIApp, Receive, Scope, Send

from console.access.guard import AccessPolicy
from store.database import Store
from store.models import AuditRow, OperatorToken
from store.roles import Role
from store.tokens import create_token

TEST_ACCESS = AccessPolicy(cookie_secret="tests-only cookie secret, never used elsewhere")
TESTER = "tester"
"""The name of the admin token tests act with: their actor is ``token:tester``."""
TESTER_ACTOR = f"token:{TESTER}"

_made: WeakKeyDictionary[Store, dict[str, str]] = WeakKeyDictionary()


async def token_for(store: Store, name: str = TESTER, role: Role = Role.ADMIN) -> str:
    """The plaintext of the token ``name`` in ``store``, made with ``role`` on first use (a token
    of that name made through another ``Store`` on the same database, whose plaintext is not
    known here, is replaced)."""
    made = _made.setdefault(store, {})
    if name not in made:
        async with store.sessionmaker.begin() as session:
            await session.execute(delete(OperatorToken).where(OperatorToken.name == name))
            made[name] = await create_token(session, name, role=role)
            # The test's own credential is set-up, not part of the scenario: its audit row
            # (``token.created``) would otherwise show in every audit log a test reads.
            await session.execute(
                delete(AuditRow).where(AuditRow.action == "token.created", AuditRow.subject == name)
            )
    return made[name]


async def bearer(store: Store, name: str = TESTER, role: Role = Role.ADMIN) -> dict[str, str]:
    """The ``Authorization`` header of that token."""
    return {"Authorization": f"Bearer {await token_for(store, name, role)}"}


def with_headers(app: ASGIApp, headers: Mapping[str, str]) -> ASGIApp:
    """``app`` with ``headers`` added to every HTTP request (for clients that cannot be told)."""
    extra = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "headers": [*scope["headers"], *extra]}
        await app(scope, receive, send)

    return wrapped
