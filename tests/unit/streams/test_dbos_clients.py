"""The DBOS clients Baton knows (``streams.dbos_clients``): release order and the warning of an
executor outside the tested matrix."""

from __future__ import annotations

import pytest

from streams.dbos_clients import TESTED, compatibility_warning, version_key


def test_release_names_order_as_releases() -> None:
    names = ["0.9", "1.1.0-m6", "v1.1.0", "1.1.1", "1.6.0", "v1.10.0", "2.31.1", "10.0.0"]
    assert sorted(reversed(names), key=version_key) == names
    assert version_key("v1.6.0") == version_key("1.6.0")
    assert version_key("nightly") < version_key("0.0.1")


@pytest.mark.parametrize(("language", "version"), sorted(TESTED))
def test_a_tested_client_gets_no_warning(language: str, version: str) -> None:
    assert compatibility_warning(language, version) is None


def test_an_untested_version_is_named_with_the_tested_ones() -> None:
    assert compatibility_warning("python", "3.5.0") == (
        "Python client version 3.5.0 is outside the tested matrix "
        "(tested: 2.31.1, 3.2.0, 3.3.0, 3.4.0); some actions may not be supported"
    )
    assert "version (none reported) is outside" in (compatibility_warning("go", None) or "")


def test_an_unknown_language_is_named() -> None:
    warning = compatibility_warning("rust", "0.1.0")
    assert warning is not None
    assert warning.startswith("unknown client language 'rust': Baton is tested with Python, ")
    assert "(none reported)" in (compatibility_warning(None, None) or "")
