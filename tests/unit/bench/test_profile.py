"""``bench.profile``: reading a py-spy raw profile."""

from __future__ import annotations

import pytest

from bench.profile import hot_functions

RAW = [
    "<module> (baton/__main__.py:6);run (asyncio/runners.py:190);fold (recovery/state.py:10) 6\n",
    "<module> (baton/__main__.py:6);decode (streams/codec.py:89) 3\n",
    "<module> (baton/__main__.py:7);select (selectors.py:468) 1\n",
]


def test_shares_are_inclusive_of_callees_and_limited_to_the_packages() -> None:
    hot = dict(hot_functions(RAW, ("recovery/", "streams/")))
    assert hot == {
        "recovery/state.py:fold": pytest.approx(0.6),
        "streams/codec.py:decode": pytest.approx(0.3),
    }


def test_a_function_counts_once_per_stack_and_lines_merge() -> None:
    raw = ["main (baton/cli.py:1);main (baton/cli.py:2);x (lib/y.py:3) 4\n", "z (lib/y.py:9) 4\n"]
    assert hot_functions(raw, ("baton/",)) == [("baton/cli.py:main", 0.5)]


def test_most_samples_first() -> None:
    names = [name for name, _ in hot_functions(RAW, ("baton/", "recovery/", "streams/"))]
    assert names == [
        "baton/__main__.py:<module>",
        "recovery/state.py:fold",
        "streams/codec.py:decode",
    ]


def test_an_empty_or_malformed_profile_has_no_hot_functions() -> None:
    assert hot_functions([], ("baton/",)) == []
    assert hot_functions(["garbage\n", "\n"], ("baton/",)) == []
