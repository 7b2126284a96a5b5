"""Owner-only paths: created 0700/0600 whatever the umask, open ones tightened (the owner's bits
kept), nothing truncated, the private umask applies to whatever is created after it."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.private_files import private_dir, private_file, tighten, use_private_umask
from tests.process_state import SHELL_UMASK, current_umask, umask


@pytest.fixture(autouse=True)
def shell_umask() -> Iterator[None]:
    with umask(SHELL_UMASK):
        yield


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_dir_and_its_parents_are_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "a" / "b" / ".baton"
    assert private_dir(data) is None
    assert mode(data) == 0o700
    assert private_dir(data) is None  # already private: nothing to say


def test_an_open_dir_is_tightened_once(tmp_path: Path) -> None:
    data = tmp_path / ".baton"
    data.mkdir(mode=0o755)
    assert mode(data) == 0o755
    assert private_dir(data) == 0o755
    assert mode(data) == 0o700
    assert private_dir(data) is None


def test_a_new_file_is_owner_only_and_an_existing_one_is_not_truncated(tmp_path: Path) -> None:
    path = tmp_path / "baton.db"
    assert private_file(path) is None
    assert (mode(path), path.read_bytes()) == (0o600, b"")
    path.write_bytes(b"data")
    path.chmod(0o664)
    assert private_file(path) == 0o664
    assert (mode(path), path.read_bytes()) == (0o600, b"data")


@pytest.mark.parametrize(
    ("before", "after"), [(0o644, 0o600), (0o444, 0o400), (0o777, 0o700), (0o600, 0o600)]
)
def test_tighten_keeps_the_owners_bits(tmp_path: Path, before: int, after: int) -> None:
    path = tmp_path / "f"
    path.touch()
    path.chmod(before)
    assert tighten(path) == (None if before == after else before)
    assert mode(path) == after


def test_tighten_of_nothing(tmp_path: Path) -> None:
    assert tighten(tmp_path / "missing") is None


def test_the_private_umask_makes_what_is_created_later_owner_only(tmp_path: Path) -> None:
    with umask(SHELL_UMASK):
        assert use_private_umask() == SHELL_UMASK
        assert current_umask() == 0o077
        (tmp_path / "d").mkdir()
        (tmp_path / "f").write_text("x")
        os.close(os.open(tmp_path / "g", os.O_CREAT | os.O_WRONLY, 0o666))
    assert (mode(tmp_path / "d"), mode(tmp_path / "f"), mode(tmp_path / "g")) == (
        0o700,
        0o600,
        0o600,
    )
