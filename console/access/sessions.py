"""The console session: what the signed cookie (Starlette's ``SessionMiddleware``, itsdangerous)
holds, and how long it lasts.

The cookie names the user, how they signed in, when, and (for single sign-on, whose users the
store does not know) their role. It is signed with the deployment's shared secret
(``store.console_secret``), so every console of a deployment accepts it; it expires
``lifetime_s`` after sign-in whatever happens in between, and a local user's cookie also stops
working when they sign out (``store.users.end_sessions``) or are deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.requests import HTTPConnection

from console.access.identity import IdentityKind
from store.roles import Role

SESSION_COOKIE = "baton_session"
DEFAULT_SESSION_LIFETIME_S = 12 * 3_600


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionClaim:
    """What a valid session cookie says."""

    name: str
    kind: IdentityKind
    """``USER`` or ``OIDC``."""
    role: Role | None
    """The role single sign-on gave; None for a local user (the store has theirs)."""
    started_at: datetime


def start_session(
    connection: HTTPConnection, name: str, kind: IdentityKind, role: Role | None = None
) -> None:
    """Sign the browser in: a fresh session (nothing of an earlier one is kept)."""
    connection.session.clear()
    connection.session.update(
        {
            "user": name,
            "kind": kind.value,
            "role": None if role is None else role.value,
            "started": datetime.now(UTC).timestamp(),
        }
    )


def end_session(connection: HTTPConnection) -> None:
    """Forget the browser's session (the cookie is cleared on the answer)."""
    connection.session.clear()


def session_claim(connection: HTTPConnection, lifetime_s: float) -> SessionClaim | None:
    """The signed-in user the cookie names; None without a session, or once it has expired."""
    if "session" not in connection.scope:
        return None
    data = connection.session
    name, kind, role, started = (data.get(k) for k in ("user", "kind", "role", "started"))
    if not isinstance(name, str) or not isinstance(started, int | float):
        return None
    try:
        claim = SessionClaim(
            name=name,
            kind=IdentityKind(str(kind)),
            role=None if role is None else Role(role),
            started_at=datetime.fromtimestamp(started, UTC),
        )
    except (TypeError, ValueError):
        return None
    if (datetime.now(UTC) - claim.started_at).total_seconds() > lifetime_s:
        return None
    return claim
