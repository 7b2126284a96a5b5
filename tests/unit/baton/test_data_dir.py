"""The data directory is private to the user running Baton: the real ``baton`` entry point
(``baton.cli.main``) creates it 0700 with the SQLite store 0600 (its ``-wal``/``-shm`` files too),
and tightens a directory an older Baton left open, saying so once.

Each test starts from a shell's umask (022), so the modes are Baton's doing, and restores the
process umask and the logging set-up ``main`` installs.
"""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from baton.cli import main
from baton.data_dir import prepare_data_dir
from store.database import Store, sqlite_url
from store.keys import create_key
from tests.process_state import SHELL_UMASK, current_umask, kept_logging, umask


@pytest.fixture(autouse=True)
def shell_umask() -> Iterator[None]:
    with umask(SHELL_UMASK):
        yield


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    with kept_logging():
        yield


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def baton(*argv: str) -> int:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    return int(exited.value.code or 0)


def test_baton_creates_its_data_dir_and_store_private(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "home" / ".baton"
    assert baton("keys", "create", "orders", "--data-dir", str(data)) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("bk_")
    assert current_umask() == 0o077  # and so every process Baton starts, and what it writes
    assert (mode(data), mode(data / "baton.db")) == (0o700, 0o600)
    assert sorted(p.name for p in data.iterdir()) == ["baton.db"]


async def test_the_stores_wal_and_shm_files_are_private_whatever_the_umask(
    tmp_path: Path,
) -> None:
    db = tmp_path / "data" / "baton.db"
    async with Store(sqlite_url(db)) as store:
        async with store.sessionmaker.begin() as session:
            await create_key(session, "orders")
        # While the store is open, SQLite keeps its write-ahead log and shared memory beside it.
        wal, shm = db.with_name("baton.db-wal"), db.with_name("baton.db-shm")
        assert {p.name: mode(p) for p in (db, wal, shm)} == {
            "baton.db": 0o600,
            "baton.db-wal": 0o600,
            "baton.db-shm": 0o600,
        }
    assert mode(db.parent) == 0o700


def open_data_dir(data: Path) -> list[Path]:
    """A data directory as an older Baton left it: 0755, its files 0644."""
    data.mkdir(mode=0o755)
    sqlite3.connect(data / "baton.db").close()
    (data / "broker.log").write_text("broker output\n")
    (data / "worker" / "tables").mkdir(parents=True)
    (data / "worker" / "tables" / "t.db").write_text("table")
    files = [data / "baton.db", data / "broker.log", data / "worker" / "tables" / "t.db"]
    assert {mode(p) for p in files} == {0o644}
    return files


def test_an_open_data_dir_is_made_private_saying_so_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / ".baton"
    files = open_data_dir(data)
    assert baton("keys", "list", "orders", "--data-dir", str(data)) == 0
    err = capsys.readouterr().err
    assert err.count("were open to other users") == 1, err
    assert f"the data directory {data} (mode 755)" in err
    assert mode(data) == 0o700
    assert {p.name: mode(p) for p in files} == {
        "baton.db": 0o600,
        "broker.log": 0o600,
        "t.db": 0o600,
    }
    assert (mode(data / "worker"), mode(data / "worker" / "tables")) == (0o700, 0o700)

    assert baton("keys", "list", "orders", "--data-dir", str(data)) == 0
    assert "open to other users" not in capsys.readouterr().err


def test_prepare_data_dir_leaves_what_links_point_at_alone(tmp_path: Path) -> None:
    outside = tmp_path / "shared.txt"
    outside.write_text("not Baton's")
    data = tmp_path / ".baton"
    (data / "worker").mkdir(parents=True, mode=0o700)
    data.chmod(0o700)
    (data / "worker" / "link").symlink_to(outside)
    prepare_data_dir(data)
    assert mode(outside) == 0o644
