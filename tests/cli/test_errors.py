"""User errors on the command line: exit 2, a message that says what is valid, no traceback."""

from __future__ import annotations

import pytest
from helpers import invoke


@pytest.mark.parametrize(
    "args, match",
    [
        (("query", "{store}", "nope"), "unknown variable 'nope'"),
        (("query", "{store}", "accuracy", "--format", "xml"), "'xml' is not one of"),
        (("ls", "{tmp}/missing.zarr"), "not a reprdyn store"),
        (("run", "{tmp}/missing.yaml"), "cannot read spec"),
    ],
)
def test_user_errors_exit_2(small_store, tmp_path, args, match):
    r = invoke(*[a.format(store=small_store, tmp=tmp_path) for a in args])
    assert r.exit_code == 2 and match in r.stderr


@pytest.mark.parametrize(
    "args, match",
    [
        (("plot", "{store}", "--figure", "curvs", "--out", "{tmp}/a.png"), "did you mean 'curves'"),
        (("query", "{store}", "accuracy", "--mean", "seeed"), "did you mean 'seed'"),
        (("query", "{store}", "accuracy", "--sel", "sigmaa=0.5"), "did you mean 'sigma'"),
    ],
)
def test_misspelt_choices_get_a_suggestion(small_store, tmp_path, args, match):
    r = invoke(*[a.format(store=small_store, tmp=tmp_path) for a in args])
    assert r.exit_code == 2 and match in " ".join(r.stderr.split())
