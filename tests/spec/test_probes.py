"""The probe block's base: labels on the `probe` coord, the settings handed to an estimator, one
block per kind told apart by `kind`; and the ensemble's size per strategy."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from reprdyn.probes.kinds import union
from reprdyn.spec.probes import Ensemble

PROBE = TypeAdapter(union())


def test_a_probe_is_labelled_by_its_name_else_its_kind():
    assert PROBE.validate_python({"kind": "ridge"}).label == "ridge"
    assert PROBE.validate_python({"kind": "logistic", "name": "lin"}).label == "lin"


def test_defaults_bounds_and_the_estimators_settings():
    ridge = PROBE.validate_python({"kind": "ridge", "layers": ["mid"]})
    assert (ridge.selection, ridge.lambdas, ridge.standardize) == ("gcv", None, True)
    assert ridge.params() == {
        "transform": "none", "standardize": True, "lambdas": None, "selection": "gcv",
    }  # fmt: skip
    assert PROBE.validate_python({"kind": "seg-mlp"}).epochs == 10  # its own default, not 50
    with pytest.raises(ValidationError):
        PROBE.validate_python({"kind": "logistic", "C": [1.0, -2.0]})
    with pytest.raises(ValidationError, match="'ridge', 'logistic'"):
        PROBE.validate_python({"kind": "svm"})


@pytest.mark.parametrize("strategy, size", [("neighbours", 2 * 2 + 1), ("all", 7), ("top", 3)])
def test_the_ensemble_size_per_strategy(strategy, size):
    assert Ensemble(strategy=strategy).size(7) == size
