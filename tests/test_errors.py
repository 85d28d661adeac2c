"""The error classes and the two shared helpers: kind lookup and "did you mean"."""

from __future__ import annotations

import pytest

from reprdyn.errors import Issue, SpecError, did_you_mean, lookup


def test_lookup_names_every_valid_kind_and_the_nearest():
    table = {"ridge": 1, "logistic": 2}
    assert lookup(table, "ridge", "probe kind") == 1
    with pytest.raises(
        ValueError,
        match=r"^unknown probe kind 'ridg'; expected one of ridge, logistic; "
        r"did you mean 'ridge'\?$",
    ):
        lookup(table, "ridg", "probe kind")
    with pytest.raises(
        ValueError, match=r"^unknown probe kind 'svm'; expected one of ridge, logistic$"
    ):
        lookup(table, "svm", "probe kind")


def test_did_you_mean():
    assert did_you_mean("lables", ["labels", "layers"]) == "; did you mean 'labels'?"
    assert did_you_mean("zzz", ["labels"]) == ""


def test_spec_error_lists_every_issue_with_its_position():
    e = SpecError([Issue("a.yaml", 3, 5, "sigma", "bad"), Issue("a.yaml", 9, 1, "", "worse")])
    assert str(e) == "a.yaml:3:5: sigma: bad\na.yaml:9:1: worse"
