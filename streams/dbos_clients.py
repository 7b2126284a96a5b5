"""The DBOS clients an executor's ``ExecutorInfo`` may name, and the ones Baton is tested with.

An executor says which client it runs in its ``executor_info`` reply (``language``,
``dbos_version``). ``TESTED`` is the compatibility matrix's rows: the (language, version) pairs the
conformance suite runs (``tests/clients/catalog.py``; their results render the README's matrix,
and a unit test keeps ``TESTED`` equal to the committed results). An executor outside it gets a
warning in the executors view (``compatibility_warning``). Which verbs each release lacks is the
gateway's business (``gateway.support``).

Pure: no I/O.
"""

from __future__ import annotations

import re

from streams.records import ExecutorInfo

CLIENT_NAMES = {"python": "Python", "typescript": "TypeScript", "go": "Go", "java": "Java"}
"""Each ``language`` a DBOS client reports, and how people call the client."""

TESTED: frozenset[tuple[str, str]] = frozenset(
    {
        ("python", "2.31.1"),
        ("python", "3.2.0"),
        ("python", "3.3.0"),  # through Baton's connector (connectors/python)
        ("python", "3.4.0"),
        ("typescript", "5.2.11"),
        ("typescript", "5.3.0"),  # through Baton's connector (connectors/typescript)
        ("go", "v1.6.0"),
        ("go", "v1.7.0"),  # through Baton's connector (connectors/go)
        ("go", "v1.8.0"),
        ("go", "v1.9.0"),
        ("java", "1.1.0-m6"),
    }
)
"""The clients the conformance suite runs, as they report themselves."""

_VERSION = re.compile(r"v?(\d+(?:\.\d+)*)(.*)")


def version_key(version: str) -> tuple[tuple[int, ...], int, str]:
    """An order on release names: ``v1.6.0`` = ``1.6.0``; ``1.1.0-m6`` < ``1.1.0`` < ``1.1.1``.

    A name without a leading number sorts before every numbered one.
    """
    match = _VERSION.fullmatch(version.strip())
    if match is None:
        return ((), 0, version)
    numbers = tuple(int(part) for part in match.group(1).split("."))
    suffix = match.group(2)
    return (numbers, 0 if suffix else 1, suffix)


def client_name(info: ExecutorInfo) -> str:
    """``the TypeScript client 5.2.11 of executor X`` (language and version as reported)."""
    language = CLIENT_NAMES.get(info.language or "", info.language or "unknown-language")
    version = info.dbos_version or "of unknown version"
    return f"the {language} client {version} of executor {info.executor_id}"


def compatibility_warning(language: str | None, version: str | None) -> str | None:
    """Why an executor's client is outside the tested matrix (None: it is in it)."""
    if language not in CLIENT_NAMES:
        return (
            f"unknown client language {language or '(none reported)'!r}: Baton is tested with "
            f"{', '.join(CLIENT_NAMES.values())} clients only; actions may fail or misbehave"
        )
    if version is None or (language, version) not in TESTED:
        tested = ", ".join(sorted((v for lang, v in TESTED if lang == language), key=version_key))
        return (
            f"{CLIENT_NAMES[language]} client version {version or '(none reported)'} is outside "
            f"the tested matrix (tested: {tested}); some actions may not be supported"
        )
    return None
