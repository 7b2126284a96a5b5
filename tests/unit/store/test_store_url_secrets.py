"""A store URL's password never shows in what Baton says about the URL: a URL that does not parse,
names another database or no database is refused naming the URL with its password hidden, and
the error carries no cause that quotes it. (Failing connections: tests/integration.)"""

from __future__ import annotations

import traceback

import pytest

from store.database import Store, parse_url
from streams.exceptions import ConfigError

SECRET = "S3cret-pw"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql://baton:{SECRET}@db.example:notaport/baton", "postgresql://...@db.example"),
        (f"postgresql://baton:{SECRET}@db.example", "postgresql://baton:***@db.example"),
        (f"mysql://baton:{SECRET}@db.example/baton", "mysql"),
        (SECRET, "..."),
        (f"{SECRET}@db.example/baton", "..."),
        (f"postgresql://baton:{SECRET}@[::1/baton", "postgresql://...@[::1/baton"),
    ],
)
def test_a_refused_url_never_shows_its_password(url: str, shown: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Store(url)
    everything = "".join(traceback.format_exception(refused.value))
    assert SECRET not in everything
    assert shown in str(refused.value)


def test_the_parsed_url_hides_its_password_when_shown() -> None:
    url = parse_url(f"postgresql://baton:{SECRET}@db.example/baton")
    assert url.password == SECRET  # kept, to connect with
    assert SECRET not in str(url)
    assert SECRET not in repr(url)
