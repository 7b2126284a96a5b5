"""The one exception tree: everything Baton raises on purpose is a ``ConductorError``, drawn in
``streams.exceptions``' docstring with its retriable flag; a start-up error prints as one line."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

from baton.embedded_broker import EmbeddedBrokerError
from management.params import BadParameter
from streams import exceptions
from streams.exceptions import ConductorError, PortInUse, StartupError

PACKAGES = (
    "baton",
    "broker",
    "capture",
    "console",
    "gateway",
    "management",
    "recovery",
    "runtime",
    "store",
    "streams",
)
NOT_IMPORTABLE = ("store.migrations",)
"""Alembic's ``env.py`` runs migrations when imported."""


def baton_exceptions() -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            if info.name.startswith(NOT_IMPORTABLE):
                continue
            module = importlib.import_module(info.name)
            found += [
                value
                for value in vars(module).values()
                if isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ]
    return found


def drawn() -> dict[str, str]:
    """Class name -> its line in the tree."""
    doc = exceptions.__doc__ or ""
    return {m.group(1): m.group(0) for m in re.finditer(r"\* (\w+) .*", doc)}


def test_every_exception_baton_defines_is_a_conductor_error() -> None:
    names = {c.__name__ for c in baton_exceptions()}
    assert {"EmbeddedBrokerError", "ActionFailed", "NoLiveExecutor", "BadParameter"} <= names
    strays = [c.__qualname__ for c in baton_exceptions() if not issubclass(c, ConductorError)]
    assert strays == []


def test_the_tree_draws_every_exception_with_its_home_and_retriable_flag() -> None:
    tree = drawn()
    for cls in baton_exceptions():
        assert cls.__name__ in tree, f"{cls.__module__}.{cls.__name__} is not drawn"
        line = tree[cls.__name__]
        if cls.__module__ != "streams.exceptions":
            assert f"[{cls.__module__}]" in line, line
        assert getattr(cls, "retriable", None) == ("(retriable)" in line), line


def test_bad_parameter_is_still_a_value_error() -> None:
    assert issubclass(BadParameter, ValueError)


def test_a_start_up_error_is_one_line_with_the_cause_and_the_fix() -> None:
    error = StartupError("cannot reach\nthe thing", fix="start it")
    assert error.cause == "cannot reach\nthe thing"
    assert error.fix == "start it"
    assert error.line == "cannot reach the thing; to fix, start it"


def test_the_embedded_broker_error_keeps_its_log_out_of_the_line() -> None:
    error = EmbeddedBrokerError("the broker exited", log_tail="boom\nstorage unavailable")
    assert str(error).endswith("boom\nstorage unavailable")
    assert "\n" not in error.line
    assert "boom" not in error.line
    assert "--kafka" in error.line


@pytest.mark.parametrize("port", [8080, 8090])
def test_port_in_use_names_the_address(port: int) -> None:
    error = PortInUse("127.0.0.1", port, what="the console", fix="pass --console-port")
    assert (error.host, error.port) == ("127.0.0.1", port)
    assert error.line == (
        f"the console cannot listen on 127.0.0.1:{port}: it is already in use; "
        "to fix, pass --console-port"
    )
