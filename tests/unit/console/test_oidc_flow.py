"""The pure parts of a single sign-on: the signed flow cookie, the callback's checks, the identity
made of the claims, and the return path."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json

import pytest

from console.oidc.config import OidcConfig, parse_role_map
from console.oidc.flow import (
    FlowState,
    OidcError,
    OidcIdentity,
    authorization_code,
    claim_values,
    flow_key,
    identity_from_claims,
    safe_return_path,
    seal,
    unseal,
)

ISSUER = "https://login.example.com"
KEY = flow_key("client-secret")
NOW_MS = 1_700_000_000_000
FLOW = FlowState(
    state="state-1",
    nonce="nonce-1",
    code_verifier="verifier-1",
    redirect_uri="https://baton.example.com/auth/oidc/callback",
    return_to="/workflows",
    expires_ms=NOW_MS + 600_000,
)
CONFIG = OidcConfig(
    issuer=ISSUER,
    client_id="baton",
    client_secret="client-secret",
    role_map=parse_role_map("baton-admins=admin,baton-operators=operator"),
)


def test_a_sealed_flow_unseals_until_it_expires() -> None:
    cookie = seal(FLOW, KEY)
    assert unseal(cookie, KEY, now_ms=NOW_MS) == FLOW
    assert unseal(cookie, KEY, now_ms=FLOW.expires_ms - 1) == FLOW
    with pytest.raises(OidcError, match="took too long and expired"):
        unseal(cookie, KEY, now_ms=FLOW.expires_ms)


def test_the_key_is_derived_from_the_secret_not_the_secret_itself() -> None:
    assert flow_key("client-secret") == KEY
    assert flow_key("another-secret") != KEY
    assert b"client-secret" not in KEY


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(payload: object, key: bytes = KEY) -> str:
    """A cookie value signed as ``seal`` signs, around any JSON ``payload``."""
    encoded = b64(json.dumps(payload).encode())
    return f"{encoded}.{b64(hmac.new(key, encoded.encode(), hashlib.sha256).digest())}"


def test_a_changed_or_foreign_cookie_is_refused() -> None:
    cookie = seal(FLOW, KEY)
    payload, _, mac = cookie.partition(".")
    longer = b64(json.dumps(dataclasses.asdict(FLOW) | {"expires_ms": NOW_MS * 2}).encode())
    tampered = [
        f"{longer}.{mac}",  # a later expiry, the old signature
        seal(dataclasses.replace(FLOW, state="attacker"), flow_key("another-secret")),
        payload,  # no signature
        f"{payload}.",
        f"{payload}.{mac[:-2]}",
        f"{payload[:-1]}.{mac}",
        "not base64!.@@@",
        "\u00e9.\u00e9",
    ]
    for value in tampered:
        with pytest.raises(OidcError, match="tampered with") as refused:
            unseal(value, KEY, now_ms=NOW_MS)
        assert refused.value.status == 400


def test_a_validly_signed_cookie_of_another_shape_is_refused() -> None:
    """Defence in depth: even a correctly signed payload must be a whole flow."""
    assert unseal(signed(dataclasses.asdict(FLOW)), KEY, now_ms=NOW_MS) == FLOW
    shapes: list[object] = [
        [1, 2],
        {"state": "s"},
        dataclasses.asdict(FLOW) | {"expires_ms": "never"},
        dataclasses.asdict(FLOW) | {"state": None},
        dataclasses.asdict(FLOW) | {"extra": "x"},
    ]
    for payload in shapes:
        with pytest.raises(OidcError, match="tampered with"):
            unseal(signed(payload), KEY, now_ms=NOW_MS)


def test_no_cookie_means_no_sign_in_in_progress() -> None:
    for missing in (None, ""):
        with pytest.raises(OidcError, match="no sign-in in progress"):
            unseal(missing, KEY, now_ms=NOW_MS)


def test_the_callback_yields_the_code_of_this_sign_in() -> None:
    params = {"code": "the-code", "state": "state-1", "iss": ISSUER}
    assert authorization_code(FLOW, params, issuer=ISSUER) == "the-code"
    del params["iss"]  # providers without RFC 9207 send none
    assert authorization_code(FLOW, params, issuer=ISSUER) == "the-code"


@pytest.mark.parametrize(
    ("params", "message", "status"),
    [
        ({"code": "c", "state": "state-2"}, "does not match this browser's sign-in (state)", 400),
        ({"code": "c"}, "(state)", 400),
        ({"code": "c", "state": "state-1", "iss": "https://evil.example"}, "(iss)", 400),
        ({"state": "state-1"}, "no authorization code", 400),
        (
            {"error": "access_denied", "error_description": "User said no", "state": "state-1"},
            "the provider refused the sign-in: User said no",
            403,
        ),
        ({"error": "server_error", "state": "state-1"}, "refused the sign-in: server_error", 400),
    ],
)
def test_a_callback_that_is_not_this_sign_ins_is_refused(
    params: dict[str, str], message: str, status: int
) -> None:
    with pytest.raises(OidcError) as refused:
        authorization_code(FLOW, params, issuer=ISSUER)
    assert message in str(refused.value)
    assert refused.value.status == status


def test_a_providers_error_text_is_bounded() -> None:
    with pytest.raises(OidcError) as refused:
        authorization_code(FLOW, {"error": "x", "error_description": "y" * 10_000}, issuer=ISSUER)
    assert len(str(refused.value)) < 300


def test_the_identity_carries_the_strongest_mapped_role() -> None:
    claims = {
        "sub": "248289761001",
        "name": "Jane Doe",
        "email": "jane@example.com",
        "groups": ["staff", "baton-operators", "baton-admins"],
    }
    assert identity_from_claims(claims, CONFIG, return_to="/x") == OidcIdentity(
        issuer=ISSUER,
        subject="248289761001",
        name="Jane Doe",
        email="jane@example.com",
        role="admin",
        return_to="/x",
    )


def test_the_display_name_falls_back_to_username_email_then_subject() -> None:
    base: dict[str, object] = {"sub": "s-1", "groups": "baton-operators"}
    cases = [
        (base | {"preferred_username": "jd", "email": "j@x"}, "jd"),
        (base | {"email": "j@x", "name": ""}, "j@x"),
        (base | {"name": 42}, "s-1"),
    ]
    for claims, name in cases:
        assert identity_from_claims(claims, CONFIG, return_to="/").name == name


def test_an_unmapped_user_is_refused_with_what_to_ask_for() -> None:
    with pytest.raises(OidcError) as refused:
        identity_from_claims({"sub": "eve", "groups": ["staff"]}, CONFIG, return_to="/")
    assert refused.value.status == 403
    assert "eve signed in, but Baton gives no role to groups ['staff']" in str(refused.value)
    assert "baton-admins, baton-operators" in str(refused.value)


def test_claims_without_a_subject_are_refused() -> None:
    for claims in ({}, {"sub": ""}, {"sub": 7}):
        with pytest.raises(OidcError, match="names no subject"):
            identity_from_claims(claims, CONFIG, return_to="/")


def test_claim_values_take_strings_lists_and_nested_objects() -> None:
    claims = {
        "groups": ["a", 3, "b", None],
        "role": "ops",
        "realm_access": {"roles": ["admin"]},
        "flag": True,
    }
    assert claim_values(claims, "groups") == ("a", "b")
    assert claim_values(claims, "role") == ("ops",)
    assert claim_values(claims, "realm_access.roles") == ("admin",)
    assert claim_values(claims, "flag") == ()
    assert claim_values(claims, "missing") == ()
    assert claim_values(claims, "role.deeper") == ()


@pytest.mark.parametrize(
    ("requested", "path"),
    [
        ("/workflows?status=ERROR", "/workflows?status=ERROR"),
        ("/", "/"),
        (None, "/"),
        ("", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("workflows", "/"),
        ("/x\r\nSet-Cookie: a=b", "/"),
    ],
)
def test_only_local_paths_are_returned_to(requested: str | None, path: str) -> None:
    assert safe_return_path(requested) == path
