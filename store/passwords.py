"""Console users' passwords: argon2id hashes (the one ``import argon2``).

argon2-cffi's defaults (RFC 9106's low-memory profile) are used as they are; a hash made with
older parameters is reported so the caller can store a fresh one after a successful sign-in.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1_024
"""Longer input is refused before hashing: hashing cost must not be the caller's to choose."""

# A hash of nothing anybody knows: checking an unknown user's password against it takes as long
# as checking a real one, so the answer's timing does not tell which names exist.
_DECOY_HASH = _HASHER.hash("baton decoy password, never valid")


def hash_password(password: str) -> str:
    """The stored form of a new password.

    Raises:
        ValueError: shorter than ``MIN_PASSWORD_CHARS`` or longer than ``MAX_PASSWORD_CHARS``.
    """
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise ValueError(f"a password has at most {MAX_PASSWORD_CHARS} characters")
    return _HASHER.hash(password)


def password_matches(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` is the one ``stored_hash`` was made from (None: compared with a decoy,
    in the same time, and refused)."""
    if len(password) > MAX_PASSWORD_CHARS:
        return False
    try:
        return _HASHER.verify(stored_hash or _DECOY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether a matching hash was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(stored_hash)
