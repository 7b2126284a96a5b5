"""The role each console route needs: one table, read top to bottom, the first match wins.

Anonymous: the health check, readiness, metrics, static files, and the sign-in pages. Reading
needs ``viewer``; acting on workflows, schedules and versions (every other method, and the pages
that only confirm an action) needs ``operator``; managing keys, tokens, users and settings needs
``admin``. A path no rule names needs ``viewer`` to read and ``operator`` for anything else, so a
new route is never anonymous by accident (``tests/unit/console/test_access_rules.py`` walks every
route of the app).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from store.roles import Role

READ_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class _Rule:
    methods: frozenset[str] | None
    """None: any method."""
    path: re.Pattern[str]
    role: Role | None
    """None: anyone, signed in or not."""


def _rule(methods: str | None, path: str, role: Role | None) -> _Rule:
    chosen = None if methods is None else frozenset(methods.split())
    return _Rule(chosen, re.compile(path), role)


RULES: tuple[_Rule, ...] = (
    _rule("GET HEAD", r"/(healthz|readyz|metrics)", None),
    _rule("GET HEAD", r"/static/.*", None),
    _rule(None, r"/signin", None),
    _rule("POST", r"/signout", None),
    _rule("GET HEAD", r"/auth/oidc/(login|callback)", None),
    _rule(None, r"/api/v1/admin(/.*)?", Role.ADMIN),
    _rule(None, r"/admin(/.*)?", Role.ADMIN),
    # An export carries a workflow's whole history, made to be imported elsewhere: an operator's.
    _rule("GET HEAD", r"/api/v1/apps/[^/]+/workflows/.+/export", Role.OPERATOR),
    # Pages that only confirm an action before it is posted. A workflow's confirmation is
    # ``/apps/A/workflows/ID/confirm?action=...`` (``console.dashboard.actions``); the rules see
    # no query, so the page of a workflow whose own id ends in "/confirm" needs operator too.
    _rule(
        "GET HEAD",
        r"/apps/[^/]+/(bulk/new|versions/confirm|schedules/.+/confirm|workflows/.+/confirm)",
        Role.OPERATOR,
    ),
)


def required_role(method: str, path: str) -> Role | None:
    """The role a request needs; None: anonymous."""
    for rule in RULES:
        if (rule.methods is None or method in rule.methods) and rule.path.fullmatch(path):
            return rule.role
    return Role.VIEWER if method in READ_METHODS else Role.OPERATOR
