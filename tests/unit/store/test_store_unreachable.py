"""``store.reachability.store_unreachable``: a refused, reset or timed-out connection to the
store's database is an outage (the console answers 503, degraded); anything else is a bug."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from store.reachability import store_unreachable


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        ConnectionResetError(),
        TimeoutError(),
        OperationalError("SELECT 1", {}, Exception("server closed the connection")),
        InterfaceError("SELECT 1", {}, Exception("connection is closed")),
        DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True),
        OperationalError("SELECT 1", {}, sqlite3.OperationalError("unable to open database file")),
        OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked")),
    ],
)
def test_lost_connections_are_outages(exc: BaseException) -> None:
    assert store_unreachable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        IntegrityError("INSERT", {}, Exception("duplicate key")),
        DBAPIError("SELECT 1", {}, Exception("syntax error")),
        OperationalError("SELECT 1", {}, sqlite3.OperationalError("no such table: workflows")),
        ValueError("bad"),
        RuntimeError("the store is not started"),
    ],
)
def test_other_errors_are_not(exc: BaseException) -> None:
    assert not store_unreachable(exc)
