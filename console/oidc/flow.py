"""One single sign-on, minus the network: the flow cookie, the callback's checks, the identity.

The login route keeps what the callback must check (``state``, ``nonce``, the PKCE
``code_verifier``, the redirect URI, where to go afterwards) in a short-lived cookie signed with
HMAC-SHA256 under a key derived from the client secret, so any console replica sharing the
settings can finish a sign-in another one began, and nothing is stored server-side. The callback
checks the cookie's signature and age, that the provider's ``state`` (and ``iss``, RFC 9207) are
this sign-in's, and, once the ID token is validated (``console.oidc.provider``), maps its claims to
an ``OidcIdentity``.

Pure: takes ``now_ms`` and random values as arguments; no I/O, no Authlib, no Starlette.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from console.oidc.config import OidcConfig
from streams.exceptions import ConductorError

_MAX_PROVIDER_TEXT = 200
"""A provider's ``error_description`` is echoed to the user; bound it."""


class OidcError(ConductorError):
    """A single sign-on did not succeed; ``str()`` is safe to show the user.

    Attributes:
        status: the HTTP status the callback answers with (400: a bad or stale sign-in, 403: the
            user has no role, 502: the provider failed).
    """

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowState:
    """What the callback must find again: the values sent with the authorization request."""

    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    return_to: str
    """The local path to land on once signed in."""
    expires_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OidcIdentity:
    """A user the provider vouched for, with the role the claim mapping gives them."""

    issuer: str
    subject: str
    """The provider's stable id of the user (``sub``); with ``issuer``, the user's key."""
    name: str
    """What to call them: ``name``, else ``preferred_username``, ``email``, ``subject``."""
    email: str | None
    role: str
    """One of ``console.oidc.config.ROLES``."""
    return_to: str
    """The local path the browser asked for before signing in (``on_signed_in`` redirects
    there)."""


_FLOW_FIELDS = frozenset(FlowState.__dataclass_fields__)


def flow_key(client_secret: str) -> bytes:
    """The flow cookie's HMAC key, derived from (and never equal to) the client secret."""
    return hmac.new(client_secret.encode(), b"baton oidc flow cookie v1", hashlib.sha256).digest()


def seal(flow: FlowState, key: bytes) -> str:
    """The flow as a cookie value: ``base64url(json).base64url(hmac)``."""
    payload = _b64(json.dumps(asdict(flow), separators=(",", ":")).encode())
    return f"{payload}.{_b64(_mac(key, payload))}"


def unseal(cookie: str | None, key: bytes, *, now_ms: int) -> FlowState:
    """The flow a cookie made by ``seal`` holds.

    Raises:
        OidcError: no cookie, a bad signature or shape, or an expired sign-in.
    """
    if not cookie:
        raise OidcError(
            "this browser has no sign-in in progress (cookies blocked, or it expired); sign in "
            "again"
        )
    payload, _, mac = cookie.partition(".")
    try:
        valid = hmac.compare_digest(_unb64(mac), _mac(key, payload))
        flow = _flow_from_json(_unb64(payload)) if valid else None
    except (ValueError, binascii.Error):
        flow = None
    if flow is None:
        raise OidcError("the sign-in cookie was tampered with; sign in again")
    if now_ms >= flow.expires_ms:
        raise OidcError("the sign-in took too long and expired; sign in again")
    return flow


def authorization_code(flow: FlowState, params: Mapping[str, str], *, issuer: str) -> str:
    """The authorization code of a callback that belongs to ``flow``.

    Raises:
        OidcError: the provider reported an error, or ``state``/``iss`` are not this sign-in's
            (a forged or crossed callback), or there is no code.
    """
    if "error" in params:
        detail = params.get("error_description") or params["error"]
        raise OidcError(
            f"the provider refused the sign-in: {detail[:_MAX_PROVIDER_TEXT]}",
            status=403 if params["error"] == "access_denied" else 400,
        )
    if not hmac.compare_digest(params.get("state", "").encode(), flow.state.encode()):
        raise OidcError(
            "the sign-in answer does not match this browser's sign-in (state); sign in again"
        )
    # RFC 9207: an ``iss`` in the answer must be our provider's (mix-up attacks).
    if "iss" in params and params["iss"] != issuer:
        raise OidcError("the sign-in answer comes from another provider (iss); sign in again")
    code = params.get("code")
    if not code:
        raise OidcError("the provider's answer carries no authorization code; sign in again")
    return code


def identity_from_claims(
    claims: Mapping[str, object], config: OidcConfig, *, return_to: str
) -> OidcIdentity:
    """The signed-in user, from the validated ID token's (and userinfo's) claims.

    Raises:
        OidcError: (403) the role claim maps to no role and there is no ``*`` fallback.
    """
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise OidcError("the provider's ID token names no subject", status=502)
    values = claim_values(claims, config.role_claim)
    role = config.role_map.role_for(values)
    if role is None:
        raise OidcError(
            f"{subject} signed in, but Baton gives no role to {config.role_claim} "
            f"{list(values)!r}; ask an admin to add you to one of: "
            f"{', '.join(config.role_map.roles_by_value) or '(none configured)'}",
            status=403,
        )
    email = _text(claims, "email")
    name = _text(claims, "name") or _text(claims, "preferred_username") or email or subject
    return OidcIdentity(
        issuer=config.issuer,
        subject=subject,
        name=name,
        email=email,
        role=role,
        return_to=return_to,
    )


def claim_values(claims: Mapping[str, object], path: str) -> tuple[str, ...]:
    """The string values of claim ``path`` (dots reach into objects); ``()`` if absent.

    A string is one value, a list contributes its strings; anything else counts as none.
    """
    value: object = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def safe_return_path(requested: str | None) -> str:
    """``requested`` if it is a path on this site, else ``/`` (no open redirect)."""
    if (
        not requested
        or not requested.startswith("/")
        or requested.startswith("//")
        or "\\" in requested
        or any(ord(c) < 0x20 for c in requested)
    ):
        return "/"
    return requested


def _flow_from_json(data: bytes) -> FlowState | None:
    """The flow ``seal`` wrote, or ``None`` if ``data`` is not one (raises ``ValueError`` if it
    is not JSON)."""
    fields = json.loads(data)
    if not isinstance(fields, dict) or set(fields) != _FLOW_FIELDS:
        return None
    if not isinstance(fields["expires_ms"], int) or not all(
        isinstance(fields[name], str) for name in _FLOW_FIELDS - {"expires_ms"}
    ):
        return None
    return FlowState(**fields)


def _text(claims: Mapping[str, object], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and value else None


def _mac(key: bytes, payload: str) -> bytes:
    return hmac.new(key, payload.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
