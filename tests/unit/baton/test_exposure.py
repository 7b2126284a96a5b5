"""Listening beyond loopback without TLS: which addresses are beyond, and what each role says."""

from __future__ import annotations

import logging

import pytest

from baton.exposure import TLS_DOCS, exposure_warning, is_loopback, warn_if_exposed


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST."]
)
def test_loopback_addresses_expose_nothing(host: str) -> None:
    assert is_loopback(host)
    assert exposure_warning("gateway", host, 8090) is None
    assert exposure_warning("console", host, 8080) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.168.1.20", "10.0.0.1", "baton.lan"])
def test_any_other_address_is_beyond_loopback(host: str) -> None:
    assert not is_loopback(host)


def test_the_gateway_names_its_websocket_endpoint_and_the_fix() -> None:
    warning = exposure_warning("gateway", "0.0.0.0", 8090)
    assert warning == (
        "the gateway listens on 0.0.0.0:8090, beyond this machine, without TLS: it exposes the "
        "executors' WebSocket endpoint (ws://), whose URLs carry the apps' API keys and whose "
        "frames carry workflow inputs and outputs in clear to the network; put a "
        "TLS-terminating proxy in front and give executors a wss:// conductor_url (see "
        f"{TLS_DOCS})"
    )


def test_the_console_names_its_dashboard_and_api() -> None:
    warning = exposure_warning("console", "::", 8080)
    assert warning is not None
    assert warning.startswith("the console listens on [::]:8080, beyond this machine, without TLS")
    assert "dashboard and HTTP API (http://)" in warning
    assert TLS_DOCS in warning


def test_tls_of_its_own_says_nothing() -> None:
    assert exposure_warning("console", "0.0.0.0", 8080, tls=True) is None


def test_the_warning_is_logged_once_with_its_fields(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="baton.exposure"):
        warn_if_exposed("gateway", "127.0.0.1", 8090)
        assert caplog.records == []
        warn_if_exposed("gateway", "0.0.0.0", 8090)
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == exposure_warning("gateway", "0.0.0.0", 8090)
    assert (record.role, record.host, record.port) == ("gateway", "0.0.0.0", 8090)  # type: ignore[attr-defined]
