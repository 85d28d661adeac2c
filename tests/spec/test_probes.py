"""Probe blocks: defaults, labels on the `probe` coord, the kinds a segmentation spec may use,
and the ensemble's size per strategy."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from reprdyn.spec.probes import SEGMENTATION_PROBES, Ensemble, Probe

PROBE = TypeAdapter(Probe)


def test_a_probe_is_labelled_by_its_name_else_its_kind():
    assert PROBE.validate_python({"kind": "ridge"}).label == "ridge"
    assert PROBE.validate_python({"kind": "logistic", "name": "lin"}).label == "lin"


def test_defaults_and_bounds():
    ridge = PROBE.validate_python({"kind": "ridge"})
    assert (ridge.selection, ridge.lambdas, ridge.standardize) == ("gcv", None, True)
    assert PROBE.validate_python({"kind": "seg-mlp"}).epochs == 10  # its own default, not 50
    with pytest.raises(ValidationError):
        PROBE.validate_python({"kind": "logistic", "C": [1.0, -2.0]})
    assert set(SEGMENTATION_PROBES) < set(PROBE.json_schema()["discriminator"]["mapping"])


@pytest.mark.parametrize("strategy, size", [("neighbours", 2 * 2 + 1), ("all", 7), ("top", 3)])
def test_the_ensemble_size_per_strategy(strategy, size):
    assert Ensemble(strategy=strategy).size(7) == size
