"""Single sign-on settings: ``BATON_OIDC_*`` parsing, its errors, and the claim-to-role mapping."""

from __future__ import annotations

import re

import pytest

from baton.settings import Settings
from console.oidc.config import (
    DEFAULT_ROLES,
    OidcConfig,
    RoleMap,
    oidc_config_from_env,
    parse_role_map,
)
from streams.exceptions import ConfigError

MINIMAL = {
    "BATON_OIDC_ISSUER": "https://login.example.com/realms/ops",
    "BATON_OIDC_CLIENT_ID": "baton",
    "BATON_OIDC_CLIENT_SECRET": "s3cret-value",
}


def test_off_without_an_issuer() -> None:
    assert oidc_config_from_env({}) is None
    assert Settings.from_env({}).oidc is None


def test_minimal_settings_take_the_defaults() -> None:
    config = Settings.from_env(MINIMAL).oidc
    assert config == OidcConfig(
        issuer="https://login.example.com/realms/ops",
        client_id="baton",
        client_secret="s3cret-value",
        role_map=parse_role_map(DEFAULT_ROLES),
    )
    assert config.redirect_url is None
    assert config.scopes == ("openid", "profile", "email")
    assert config.role_claim == "groups"
    assert config.role_map.fallback is None


def test_every_variable_is_read() -> None:
    config = oidc_config_from_env(
        MINIMAL
        | {
            "BATON_OIDC_REDIRECT_URL": "https://baton.example.com/auth/oidc/callback",
            "BATON_OIDC_SCOPES": "openid email groups",
            "BATON_OIDC_ROLE_CLAIM": "realm_access.roles",
            "BATON_OIDC_ROLES": "ops=operator, *=viewer",
        }
    )
    assert config is not None
    assert config.redirect_url == "https://baton.example.com/auth/oidc/callback"
    assert config.scopes == ("openid", "email", "groups")
    assert config.role_claim == "realm_access.roles"
    assert config.role_map == RoleMap(roles_by_value={"ops": "operator"}, fallback="viewer")


def test_the_client_secret_never_shows_in_a_repr() -> None:
    settings = Settings.from_env(MINIMAL)
    assert "s3cret-value" not in repr(settings)
    assert "s3cret-value" not in repr(settings.oidc)


@pytest.mark.parametrize(
    ("env", "cause", "fix"),
    [
        (
            {"BATON_OIDC_CLIENT_ID": "baton"},
            "BATON_OIDC_CLIENT_ID set without BATON_OIDC_ISSUER",
            "set BATON_OIDC_ISSUER",
        ),
        (
            {"BATON_OIDC_ISSUER": MINIMAL["BATON_OIDC_ISSUER"]},
            "single sign-on needs BATON_OIDC_CLIENT_ID",
            "set BATON_OIDC_CLIENT_ID",
        ),
        (
            MINIMAL | {"BATON_OIDC_CLIENT_SECRET": ""},
            "single sign-on needs BATON_OIDC_CLIENT_SECRET",
            "client secret",
        ),
        (
            MINIMAL | {"BATON_OIDC_ISSUER": "http://login.example.com"},
            "BATON_OIDC_ISSUER='http://login.example.com' is not an https URL",
            "plain http only on a loopback address",
        ),
        (
            MINIMAL | {"BATON_OIDC_ISSUER": "login.example.com"},
            "is not an https URL",
            "https://",
        ),
        (
            MINIMAL | {"BATON_OIDC_REDIRECT_URL": "https://baton.example.com/cb?x=1"},
            "BATON_OIDC_REDIRECT_URL",
            "without query or fragment",
        ),
        (
            MINIMAL | {"BATON_OIDC_SCOPES": "profile email"},
            "lacks openid",
            "include openid",
        ),
        (
            MINIMAL | {"BATON_OIDC_ROLE_CLAIM": "realm_access..roles"},
            "is not a claim name",
            "realm_access.roles",
        ),
        (
            MINIMAL | {"BATON_OIDC_ROLES": "baton-admins:admin"},
            "entry 'baton-admins:admin' is not VALUE=ROLE",
            "baton-admins=admin",
        ),
    ],
)
def test_bad_values_say_what_to_do(env: dict[str, str], cause: str, fix: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env)
    assert cause in raised.value.cause
    assert fix in raised.value.fix


def test_plain_http_is_allowed_for_a_provider_on_this_machine() -> None:
    for issuer in ("http://127.0.0.1:9000", "http://localhost:8080/realms/dev", "http://[::1]:1"):
        config = oidc_config_from_env(MINIMAL | {"BATON_OIDC_ISSUER": issuer})
        assert config is not None
        assert config.issuer == issuer  # kept exactly: it must equal the tokens' iss


def test_the_strongest_mapped_role_wins() -> None:
    roles = parse_role_map("baton-admins=admin,baton-operators=operator,*=viewer")
    assert roles.role_for(["baton-operators", "baton-admins"]) == "admin"
    assert roles.role_for(["staff", "baton-operators"]) == "operator"
    assert roles.role_for(["staff"]) == "viewer"
    assert roles.role_for([]) == "viewer"


def test_without_a_fallback_an_unmapped_user_has_no_role() -> None:
    roles = parse_role_map(DEFAULT_ROLES)
    assert roles.role_for(["staff"]) is None
    assert roles.role_for(["Baton-Admins"]) is None  # values are exact
    assert roles.role_for(["baton-admins"]) == "admin"


def test_values_may_contain_equals_signs() -> None:
    roles = parse_role_map("team=ops=operator")
    assert roles.role_for(["team=ops"]) == "operator"
    assert roles.describe() == "team=ops=operator"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("admins=root", "is not VALUE=ROLE"),
        ("=admin", "is not VALUE=ROLE"),
        ("admins", "is not VALUE=ROLE"),
        ("", "is not VALUE=ROLE"),
        ("a=admin,,b=viewer", "is not VALUE=ROLE"),
        ("a=admin,a=viewer", "names 'a' twice"),
        ("*=admin,*=viewer", "names '*' twice"),
    ],
)
def test_malformed_role_maps_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_role_map(text)


def test_describe_round_trips() -> None:
    text = "baton-admins=admin,baton-operators=operator,*=viewer"
    assert parse_role_map(parse_role_map(text).describe()) == parse_role_map(text)
