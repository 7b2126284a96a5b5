"""Fixtures of the management engine's component tests: the console tests' seeded SQLite store."""

from __future__ import annotations

from tests.component.console.conftest import seeded_store

__all__ = ["seeded_store"]
