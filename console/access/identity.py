"""Who a console request is: a signed-in user, an API token, a single sign-on user, or a user a
trusted auth proxy names; each with a role (``store.roles``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from starlette.requests import HTTPConnection

from store.roles import Role

SCOPE_KEY = "baton.identity"
"""Where ``console.access.guard`` puts the request's ``Identity`` in the ASGI scope."""


class IdentityKind(StrEnum):
    USER = "user"
    """A console user (``baton users``), signed in with a password or a sign-in link."""
    TOKEN = "token"
    """An API token (``baton tokens``), sent as ``Authorization: Bearer``."""
    OIDC = "oidc"
    """Signed in through single sign-on; the role comes from the provider's claim."""
    PROXY = "proxy"
    """Named by a trusted auth proxy's header (``BATON_CONSOLE_USER_HEADER``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """A request's caller."""

    name: str
    kind: IdentityKind
    role: Role
    sees_payloads: bool = True
    """False for a viewer when the console withholds payloads from viewers
    (``AccessPolicy.viewers_see_payloads``)."""

    @property
    def actor(self) -> str:
        """The audit log's name of the caller: ``user:alice``, ``token:ci``, ``oidc:Bob``."""
        kind = IdentityKind.USER if self.kind is IdentityKind.PROXY else self.kind
        return f"{kind.value}:{self.name}"

    @property
    def signs_out(self) -> bool:
        """Whether the caller has a console session to end (not a token or a proxy user)."""
        return self.kind in (IdentityKind.USER, IdentityKind.OIDC)


def payloads_withheld(connection: HTTPConnection) -> bool:
    """Whether the caller may not see workflow inputs, outputs, errors and step outputs."""
    identity = identity_of(connection)
    return identity is not None and not identity.sees_payloads


def identity_of(connection: HTTPConnection) -> Identity | None:
    """The request's caller, as the guard resolved it (None on anonymous routes)."""
    found = connection.scope.get(SCOPE_KEY)
    return found if isinstance(found, Identity) else None
