"""The second validation stage: layers of networks and models, training data that must exist."""

from __future__ import annotations

import pytest
from helpers import BASE, errors, trained_spec

from reprdyn.spec import SpecError, validate_text


def test_unknown_layer_for_static_model():
    out = errors(BASE + "layers: [outptu]\n")
    assert "unknown layer 'outptu'" in out[0] and "did you mean 'output'" in out[0]
    assert "duplicate layer" in errors(BASE + "layers: [output, output]\n")[0]


TRAINED = trained_spec(rest="layers: [fc2, outptu]\n")


def test_unknown_network_layer_is_positioned_with_suggestion():
    out = errors(TRAINED)
    assert len(out) == 1 and out[0].startswith("s.yaml:11:15: layers[1]: unknown layer 'outptu'")
    assert "did you mean 'output'?" in out[0] and "fc1" in out[0]


def test_train_data_must_exist_and_match_shape():
    assert (
        "names dataset 'x', which is not in `datasets`"
        in errors(TRAINED.replace("data: m", "data: x"))[0]
    )
    two = TRAINED.replace("datasets:\n", "datasets:\n  - {kind: digits, name: dg}\n")
    assert "datasets ['dg'] do not have the training data's shape (12,)" in errors(two)[0]


def test_unknown_dense_layer_is_a_positioned_error():
    from helpers import SEG_SMALL

    with pytest.raises(SpecError) as e:
        validate_text(SEG_SMALL.replace("last: [dec.1]", "last: [dec.7]"), "s.yaml")
    (issue,) = e.value.issues
    assert issue.path == "dense.last[0]" and issue.line == 14
    assert "unknown layer 'dec.7'" in issue.message and "dec.1" in issue.message
