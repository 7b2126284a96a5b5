"""Typed access to decoded JSON objects: the one reader every record decoder uses.

Pure. Every getter raises ``TypeError`` or ``KeyError`` on a misfit; the codec in
``streams.records`` turns those into ``RecordError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Fields:
    """Typed access to a decoded JSON object; every getter raises TypeError/KeyError on misfit."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    def text(self, name: str) -> str:
        value = self._data[name]
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a string")
        return value

    def opt_text(self, name: str) -> str | None:
        value = self._data.get(name)
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name} must be a string or null")
        return value

    def integer(self, name: str) -> int:
        value = self._data[name]
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an integer")
        return value

    def opt_integer(self, name: str) -> int | None:
        return None if self._data.get(name) is None else self.integer(name)

    def flag(self, name: str) -> bool:
        value = self._data[name]
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be a boolean")
        return value

    def opt_flag(self, name: str) -> bool:
        return False if self._data.get(name) is None else self.flag(name)

    def obj(self, name: str) -> Fields:
        value = self._data[name]
        if not isinstance(value, dict):
            raise TypeError(f"{name} must be an object")
        return Fields(value)

    def opt_mapping(self, name: str) -> Mapping[str, Any] | None:
        value = self._data.get(name)
        if value is not None and not isinstance(value, dict):
            raise TypeError(f"{name} must be an object or null")
        return value

    def objs(self, name: str) -> list[Fields]:
        value = self._data[name]
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise TypeError(f"{name} must be a list of objects")
        return [Fields(v) for v in value]

    def opt_obj(self, name: str) -> Fields | None:
        return None if self._data.get(name) is None else self.obj(name)

    def opt_objs(self, name: str) -> list[Fields] | None:
        return None if self._data.get(name) is None else self.objs(name)

    def opt_value(self, name: str) -> Any:
        """Any JSON value, or ``None`` when absent."""
        return self._data.get(name)

    def texts(self, name: str) -> list[str]:
        value = self._data[name]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TypeError(f"{name} must be a list of strings")
        return value
