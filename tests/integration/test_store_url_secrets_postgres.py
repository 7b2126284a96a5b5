"""A PostgreSQL store URL's password never appears in logs or error messages when connecting
fails, on the real server (127.0.0.1:5432): a database that does not exist, a role that does not
exist, a port nothing listens on. Through the real ``baton`` entry point (``baton.cli.main``) and
through ``Store.start`` with every logger at DEBUG.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from uuid import uuid4

import pytest

from baton.cli import main
from store.database import Store
from tests.process_state import kept_logging, umask

pytestmark = pytest.mark.integration

SECRET = "S3cret-pw-" + uuid4().hex[:8]
FAILING_URLS = {
    "no such database": f"postgresql://postgres:{SECRET}@127.0.0.1:5432/no_db_{uuid4().hex[:8]}",
    "no such role": f"postgresql://nobody_{uuid4().hex[:6]}:{SECRET}@127.0.0.1:5432/test",
    "nothing listening": f"postgresql://postgres:{SECRET}@127.0.0.1:1/test",
}


@pytest.fixture(autouse=True)
def process_state() -> Iterator[None]:
    with umask(), kept_logging():
        yield


def run_baton(*argv: str) -> tuple[int | str, str]:
    """Run ``baton`` in process: its exit (a status, or the exception that escaped, formatted)."""
    try:
        main(list(argv))
    except SystemExit as exited:
        return (exited.code if isinstance(exited.code, int) else 1), ""
    except Exception as exc:  # noqa: BLE001 - whatever escapes is looked at
        return "raised", "".join(traceback.format_exception(exc))
    return 0, ""


@pytest.mark.parametrize("url", FAILING_URLS.values(), ids=FAILING_URLS.keys())
def test_baton_never_shows_the_password_of_a_store_it_cannot_reach(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome, escaped = run_baton(
        "keys", "list", "orders", "--database-url", url, "--log-level", "DEBUG"
    )
    captured = capsys.readouterr()
    assert outcome != 0
    assert captured.err or escaped  # it says what went wrong, somewhere
    for shown in (captured.out, captured.err, escaped):
        assert SECRET not in shown


@pytest.mark.parametrize("url", FAILING_URLS.values(), ids=FAILING_URLS.keys())
async def test_a_store_that_cannot_connect_never_shows_its_password(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = Store(url)
    with pytest.raises(Exception) as failed:  # noqa: PT011 - whichever error: none may tell
        await store.start()
    assert SECRET not in "".join(traceback.format_exception(failed.value))
    assert SECRET not in caplog.text
    assert SECRET not in repr(store.url) + str(store.url)
