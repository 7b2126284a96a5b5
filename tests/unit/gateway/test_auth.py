"""Handshake admission: finding credentials in the URL, and rate-limiting refusal logs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.auth import Credentials, parse_path


@pytest.mark.parametrize(
    ("path", "app", "key"),
    [
        ("/websocket/orders/k-123", "orders", "k-123"),
        ("/conductor/v1alpha1/websocket/orders/k-123", "orders", "k-123"),
        ("/websocket/orders/k-123?token=ignored&x=1", "orders", "k-123"),
        ("/websocket/orders/k-123/", "orders", "k-123"),
        ("/websocket/my_app.v2-beta/k", "my_app.v2-beta", "k"),
        ("/websocket/orders/a%2Fb%20c", "orders", "a/b c"),
        ("/websocket/ord%65rs/key", "orders", "key"),
        ("/a//websocket//orders//key", "orders", "key"),
        ("/websocket/orders/" + "k" * 512, "orders", "k" * 512),
        ("/websocket/" + "a" * 128 + "/k", "a" * 128, "k"),
    ],
)
def test_parse_path_finds_the_app_and_key(path: str, app: str, key: str) -> None:
    assert parse_path(path) == Credentials(app=app, key=key)


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/",
        "/websocket",
        "/websocket/orders",
        "/orders/key",
        "/ws/orders/key",
        "/websocket/orders/key/extra",
        "/WEBSOCKET/orders/key",
        "/websocket/bad app/key",
        "/websocket/bad%20app/key",
        "/websocket/bad$app/key",
        "/websocket/%2E%2E%2Fetc/key",
        "/websocket/" + "a" * 129 + "/key",
        "/websocket/orders/" + "k" * 513,
        "/websocket/app\u00e9/key",
        "/websocket/app%0A/key",
        "/websocket/app%0D%0A/key",
        "/websocket/%0A/key",
    ],
)
def test_parse_path_rejects_bad_shapes_and_names(path: str) -> None:
    assert parse_path(path) is None


def test_app_name_with_a_trailing_newline_is_rejected() -> None:
    # ``$`` in a Python regex also matches before a final newline: the name must end at the end.
    assert parse_path("/websocket/orders%0A/key") is None
    assert parse_path("/websocket/orders/key") == Credentials(app="orders", key="key")


def test_parse_path_ignores_the_query_string_entirely() -> None:
    assert parse_path("/websocket/orders/key?/websocket/evil/other") == Credentials(
        app="orders", key="key"
    )
    assert parse_path("/nothing?/websocket/orders/key") is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_parse_path_never_raises_and_returns_valid_names(path: str) -> None:
    credentials = parse_path(path)
    if credentials is not None:
        assert 1 <= len(credentials.app) <= 128
        assert 1 <= len(credentials.key) <= 512


def test_fingerprint_is_stable_short_and_does_not_reveal_the_key() -> None:
    key = "sk_live_0123456789abcdef"
    credentials = Credentials(app="orders", key=key)
    fingerprint = credentials.fingerprint
    assert fingerprint == Credentials(app="other", key=key).fingerprint
    assert fingerprint != Credentials(app="orders", key=key + "x").fingerprint
    assert len(fingerprint) == 12
    assert key not in fingerprint
    assert key[:6] not in fingerprint
    assert all(c in "0123456789abcdef" for c in fingerprint)
