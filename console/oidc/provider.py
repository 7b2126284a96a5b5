"""The OpenID Connect provider, as the console's sign-in sees it: the only module that calls it.

Authlib's OAuth 2 client (over httpx2, the transport Authlib uses) builds the authorization URL
(PKCE S256, ``state``, ``nonce``) and exchanges the code (``client_secret_basic``). The ID token
is checked as OpenID Connect Core 3.1.3.7 says, with Authlib's ``CodeIDToken`` over joserfc:
signed by a key of the provider's JWKS (fetched again once for an unknown ``kid``: a rotation),
``iss`` the configured issuer, ``aud`` containing our client id, ``azp``, ``exp``/``iat`` within a
minute of our clock, ``nonce`` this sign-in's, ``at_hash`` the access token's. Claims the ID token
leaves out (``groups``, often) come from the userinfo endpoint, whose ``sub`` must be the token's.

Discovery runs on first use and is kept (a failed one is tried again by the next sign-in).
Every failure becomes an ``OidcError``: 502 when the provider is unreachable or misbehaves,
400 when it refuses the code.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from console.oidc.config import OidcConfig
from console.oidc.flow import FlowState, OidcError

logger = logging.getLogger(__name__)

LEEWAY_S = 60
"""Clock skew allowed between the provider and us for ``exp``, ``iat`` and ``nbf``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderMetadata:
    """The parts of the provider's discovery document a sign-in uses."""

    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    signing_algorithms: tuple[str, ...]
    """``id_token_signing_alg_values_supported`` (RS256 when absent, as Discovery says)."""


class OidcProvider:
    """One configured provider; keeps its discovery document and keys between sign-ins."""

    def __init__(self, config: OidcConfig, *, timeout_s: float = 10.0) -> None:
        self._config = config
        self._timeout_s = timeout_s
        self._metadata: ProviderMetadata | None = None
        self._jwks: dict[str, Any] | None = None

    async def authorization_request(
        self, *, redirect_uri: str, return_to: str, now_ms: int
    ) -> tuple[str, FlowState]:
        """The URL to send the browser to, and what its callback must match.

        Raises:
            OidcError: discovery failed (502).
        """
        metadata = await self.metadata()
        flow = FlowState(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            code_verifier=secrets.token_urlsafe(48),
            redirect_uri=redirect_uri,
            return_to=return_to,
            expires_ms=now_ms + self._config.flow_ttl_s * 1000,
        )
        async with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                metadata.authorization_endpoint,
                state=flow.state,
                code_verifier=flow.code_verifier,
                nonce=flow.nonce,
            )
        return str(url), flow

    async def sign_in(self, flow: FlowState, code: str) -> dict[str, object]:
        """The signed-in user's claims: the validated ID token's, completed by userinfo's.

        Raises:
            OidcError: the exchange failed, or the ID token or userinfo is not valid.
        """
        token = await self.exchange(flow, code)
        access_token = token.get("access_token")
        claims = await self.validate_id_token(
            token["id_token"],
            nonce=flow.nonce,
            access_token=access_token if isinstance(access_token, str) else None,
        )
        userinfo_endpoint = (await self.metadata()).userinfo_endpoint
        if userinfo_endpoint and isinstance(access_token, str):
            userinfo = await self._get_json(
                userinfo_endpoint, "userinfo", headers={"Authorization": f"Bearer {access_token}"}
            )
            # OpenID Connect Core 5.3.2: userinfo of another subject must not be used.
            if userinfo.get("sub") != claims["sub"]:
                raise OidcError("the provider's userinfo is another user's (sub)", status=502)
            claims = {**userinfo, **claims}
        return claims

    async def exchange(self, flow: FlowState, code: str) -> dict[str, Any]:
        """The token endpoint's answer for ``code`` (it holds an ``id_token``), not yet checked.

        Raises:
            OidcError: the provider refused the code (400), failed or sent no ID token (502).
        """
        metadata = await self.metadata()
        async with self._client(flow.redirect_uri) as client:
            try:
                token = await client.fetch_token(
                    metadata.token_endpoint,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=flow.code_verifier,
                )
            except OAuthError as exc:
                raise OidcError(
                    f"the provider refused the sign-in's code ({exc.error}); sign in again"
                ) from exc
            except httpx2.HTTPError as exc:
                raise _unreachable("token", exc) from exc
        if not isinstance(token.get("id_token"), str):
            raise OidcError("the provider's token answer has no ID token", status=502)
        return dict(token)

    async def validate_id_token(
        self,
        id_token: str,
        *,
        nonce: str,
        access_token: str | None = None,
        now_s: int | None = None,
    ) -> dict[str, object]:
        """The claims of ``id_token`` once it is proven to be this sign-in's, for us, from our
        provider (``now_s``: the time to check it at, default now).

        Raises:
            OidcError: (400) it is not; the message says which check failed.
        """
        metadata = await self.metadata()
        try:
            try:
                decoded = jwt.decode(id_token, await self._keys(), metadata.signing_algorithms)
            except InvalidKeyIdError:
                decoded = jwt.decode(
                    id_token, await self._keys(refresh=True), metadata.signing_algorithms
                )
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                {
                    "iss": {"essential": True, "value": self._config.issuer},
                    "aud": {"essential": True, "value": self._config.client_id},
                },
                {"nonce": nonce, "client_id": self._config.client_id, "access_token": access_token},
            )
            claims.validate(now=now_s, leeway=LEEWAY_S)
        except JoseError as exc:
            raise OidcError(f"the provider's ID token is not valid ({_reason(exc)})") from exc
        return dict(claims)

    async def metadata(self) -> ProviderMetadata:
        """The provider's discovery document (fetched once).

        Raises:
            OidcError: (502) unreachable, or not this issuer's.
        """
        if self._metadata is None:
            document = await self._get_json(_discovery_url(self._config.issuer), "discovery")
            self._metadata = _parse_metadata(document, self._config.issuer)
        return self._metadata

    async def _keys(self, *, refresh: bool = False) -> KeySet:
        if self._jwks is None or refresh:
            self._jwks = await self._get_json((await self.metadata()).jwks_uri, "JWKS")
        try:
            return KeySet.import_key_set(self._jwks)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise OidcError("the provider's JWKS holds no usable key", status=502) from exc

    async def _get_json(
        self, url: str, what: str, *, headers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        async with httpx2.AsyncClient(timeout=self._timeout_s) as client:
            try:
                response = await client.get(url, headers=headers)
                response.raise_for_status()
                document = response.json()
            except (httpx2.HTTPError, ValueError) as exc:
                raise _unreachable(what, exc) from exc
        if not isinstance(document, dict):
            raise OidcError(f"the provider's {what} at {url} is not a JSON object", status=502)
        return document

    def _client(self, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self._config.client_id,
            client_secret=self._config.client_secret,
            token_endpoint_auth_method="client_secret_basic",
            scope=" ".join(self._config.scopes),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=self._timeout_s,
        )


def _discovery_url(issuer: str) -> str:
    # OpenID Connect Discovery 4: the issuer, without a trailing slash, + the well-known path.
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def _parse_metadata(document: Mapping[str, Any], issuer: str) -> ProviderMetadata:
    """Raises ``OidcError`` unless ``document`` is ``issuer``'s (Discovery 4.3) and complete."""
    if document.get("issuer") != issuer:
        raise OidcError(
            f"the provider at {issuer} calls itself {document.get('issuer')!r}; set "
            "BATON_OIDC_ISSUER to exactly that",
            status=502,
        )
    required = ("authorization_endpoint", "token_endpoint", "jwks_uri")
    missing = [name for name in required if not isinstance(document.get(name), str)]
    if missing:
        raise OidcError(f"the provider's discovery document lacks {', '.join(missing)}", status=502)
    algorithms = document.get("id_token_signing_alg_values_supported") or ["RS256"]
    userinfo = document.get("userinfo_endpoint")
    return ProviderMetadata(
        authorization_endpoint=document["authorization_endpoint"],
        token_endpoint=document["token_endpoint"],
        jwks_uri=document["jwks_uri"],
        userinfo_endpoint=userinfo if isinstance(userinfo, str) else None,
        signing_algorithms=tuple(a for a in algorithms if isinstance(a, str) and a != "none"),
    )


def _unreachable(what: str, exc: Exception) -> OidcError:
    logger.warning("OIDC provider's %s request failed: %s", what, exc)
    return OidcError(
        f"the sign-in provider did not answer its {what} request; try again later", status=502
    )


def _reason(exc: JoseError) -> str:
    """Which check failed: joserfc's error code, and its description if it has one."""
    return f"{exc.error}: {exc.description}" if exc.description else exc.error
