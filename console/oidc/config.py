"""Single sign-on settings: which provider, as which client, and which claim value means which role.

``oidc_config_from_env`` builds an ``OidcConfig`` from the ``BATON_OIDC_*`` variables (called once
by ``baton.settings``); bad values raise ``ConfigError`` with the fix. ``RoleMap`` maps the values
of one claim of the signed-in user (``groups`` by default) to a console role.

Pure: no I/O, no Authlib; imports only ``streams.exceptions``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from streams.exceptions import ConfigError

ROLES: tuple[str, ...] = ("viewer", "operator", "admin")
"""The console's roles, weakest first: a user whose claim values map to several gets the
strongest."""

FALLBACK = "*"
"""The claim value of a ``BATON_OIDC_ROLES`` entry that every user matches (``*=viewer``)."""

DEFAULT_ROLES = "baton-admins=admin,baton-operators=operator"
"""No fallback by default: a provider's user who is in none of these groups is refused, since a
company-wide provider knows many people who must not read production workflows."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleMap:
    """Claim value → role, as ``BATON_OIDC_ROLES`` says (``value=role,...``)."""

    roles_by_value: Mapping[str, str] = field(default_factory=dict)
    """Exact (case-sensitive) claim values and the role each grants."""
    fallback: str | None = None
    """The role of a user none of whose values is listed (``*=ROLE``); ``None``: refused."""

    def role_for(self, values: Sequence[str]) -> str | None:
        """The strongest role the claim's ``values`` grant, else the fallback (may be ``None``)."""
        granted = [self.roles_by_value[v] for v in values if v in self.roles_by_value]
        if not granted:
            return self.fallback
        return max(granted, key=ROLES.index)

    def describe(self) -> str:
        """The mapping as ``BATON_OIDC_ROLES`` spells it."""
        entries = [f"{value}={role}" for value, role in self.roles_by_value.items()]
        if self.fallback is not None:
            entries.append(f"{FALLBACK}={self.fallback}")
        return ",".join(entries)


@dataclass(frozen=True, slots=True, kw_only=True)
class OidcConfig:
    """How the console signs users in with an OpenID Connect provider."""

    issuer: str
    """The provider's issuer URL, exactly as its ID tokens' ``iss`` (and its discovery document)
    spell it; discovery is at ``<issuer>/.well-known/openid-configuration``."""
    client_id: str
    client_secret: str = field(repr=False)
    redirect_url: str | None = None
    """The callback URL registered at the provider (``https://baton.example/auth/oidc/callback``);
    ``None``: the console's own ``/auth/oidc/callback`` as the browser reached it."""
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    role_claim: str = "groups"
    """The claim whose values are mapped to a role; dots reach into objects
    (``realm_access.roles``)."""
    role_map: RoleMap = field(default_factory=RoleMap)
    flow_ttl_s: int = 600
    """How long a sign-in may take at the provider (the flow cookie's lifetime)."""


_VARIABLES = (
    "ISSUER",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "REDIRECT_URL",
    "SCOPES",
    "ROLE_CLAIM",
    "ROLES",
)


def oidc_config_from_env(env: Mapping[str, str]) -> OidcConfig | None:
    """Single sign-on settings from ``BATON_OIDC_*``; ``None`` if ``BATON_OIDC_ISSUER`` is unset.

    Raises:
        ConfigError: a variable is missing or malformed (names it and what it accepts).
    """
    given = {name: env[f"BATON_OIDC_{name}"] for name in _VARIABLES if f"BATON_OIDC_{name}" in env}
    if "ISSUER" not in given:
        if given:
            stray = ", ".join(f"BATON_OIDC_{name}" for name in given)
            raise ConfigError(
                f"{stray} set without BATON_OIDC_ISSUER",
                fix="set BATON_OIDC_ISSUER to the provider's issuer URL to turn single sign-on "
                "on, or unset the other BATON_OIDC_ variables",
            )
        return None
    for name in ("CLIENT_ID", "CLIENT_SECRET"):
        if not given.get(name):
            raise ConfigError(
                f"single sign-on needs BATON_OIDC_{name}",
                fix=f"set BATON_OIDC_{name} to the {name.lower().replace('_', ' ')} the provider "
                "gave Baton's client",
            )
    scopes = tuple(given.get("SCOPES", "openid profile email").split())
    if "openid" not in scopes:
        raise ConfigError(
            f"BATON_OIDC_SCOPES={given['SCOPES']!r} lacks openid",
            fix="give BATON_OIDC_SCOPES space-separated scopes that include openid",
        )
    return OidcConfig(
        issuer=_checked_url("ISSUER", given["ISSUER"]),
        client_id=given["CLIENT_ID"],
        client_secret=given["CLIENT_SECRET"],
        redirect_url=_checked_url("REDIRECT_URL", given["REDIRECT_URL"])
        if given.get("REDIRECT_URL")
        else None,
        scopes=scopes,
        role_claim=_checked_claim(given.get("ROLE_CLAIM", "groups")),
        role_map=parse_role_map(given.get("ROLES", DEFAULT_ROLES)),
    )


def parse_role_map(text: str) -> RoleMap:
    """``value=role`` entries separated by commas; ``*=role`` for everyone else.

    A value may itself contain ``=`` (the last one separates the role), not a comma.

    Raises:
        ConfigError: an entry is not ``value=role``, names an unknown role, or repeats a value.
    """
    roles_by_value: dict[str, str] = {}
    fallback: str | None = None
    for entry in (e.strip() for e in text.split(",")):
        value, sep, role = entry.rpartition("=")
        value, role = value.strip(), role.strip()
        if not sep or not value or role not in ROLES:
            raise ConfigError(
                f"BATON_OIDC_ROLES entry {entry!r} is not VALUE=ROLE with a role of "
                f"{', '.join(ROLES)}",
                fix="give BATON_OIDC_ROLES entries like baton-admins=admin,baton-operators="
                "operator,*=viewer (claim value, '=', role; '*' for everyone else)",
            )
        if value in roles_by_value or (value == FALLBACK and fallback is not None):
            raise ConfigError(
                f"BATON_OIDC_ROLES names {value!r} twice",
                fix="give each claim value one role in BATON_OIDC_ROLES",
            )
        if value == FALLBACK:
            fallback = role
        else:
            roles_by_value[value] = role
    return RoleMap(roles_by_value=roles_by_value, fallback=fallback)


def _checked_url(name: str, url: str) -> str:
    """``url`` if it is https (or http on a loopback address, for a provider on this machine)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname and not parts.query and not parts.fragment:
        return url
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return url
    raise ConfigError(
        f"BATON_OIDC_{name}={url!r} is not an https URL",
        fix=f"set BATON_OIDC_{name} to an https:// URL without query or fragment (plain http only "
        "on a loopback address such as http://127.0.0.1:PORT)",
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _checked_claim(claim: str) -> str:
    if not claim or any(not part for part in claim.split(".")):
        raise ConfigError(
            f"BATON_OIDC_ROLE_CLAIM={claim!r} is not a claim name",
            fix="set BATON_OIDC_ROLE_CLAIM to a claim name such as groups (dots reach into "
            "objects: realm_access.roles)",
        )
    return claim
