"""What a console user or API token may do: the three roles, each allowed what the one below is.

``viewer`` reads; ``operator`` also acts on workflows (cancel, resume, fork, bulk...);
``admin`` also manages keys, tokens, users and settings. Stored as the value's text.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A role, ordered: ``Role.OPERATOR.allows(Role.VIEWER)``."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        """Whether this role may do what ``needed`` may."""
        return self.rank >= needed.rank

    @classmethod
    def parse(cls, text: str) -> Role:
        """A role from its name.

        Raises:
            ValueError: not a role's name (the message lists them).
        """
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(role.value for role in cls)
            raise ValueError(f"invalid role {text[:32]!r}: use one of {names}") from None


_RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}
