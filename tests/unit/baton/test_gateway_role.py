"""The gateway role's settings: failed handshakes are limited per peer address unless a proxy's
client-address header is configured."""

from __future__ import annotations

from baton.gateway_role import gateway_config
from baton.settings import Settings

KAFKA = {"BATON_KAFKA_BOOTSTRAP": "127.0.0.1:9092"}


def test_the_peer_address_by_default() -> None:
    assert gateway_config(Settings.from_env(KAFKA)).client_address_header is None


def test_a_proxys_client_address_header_when_configured() -> None:
    env = {**KAFKA, "BATON_GATEWAY_CLIENT_ADDRESS_HEADER": "X-Forwarded-For"}
    assert gateway_config(Settings.from_env(env)).client_address_header == "X-Forwarded-For"
