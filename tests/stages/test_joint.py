"""The joint stage: a probe over every (layer, sigma) cell at once, its accuracy with a paired
interval, the mixing weights as a cube over sigma x layer, and Table 1's third column."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import trained_spec

import reprdyn
from reprdyn.read.summary import rows_of
from reprdyn.spec import validate_text

REST = (
    "layers: [fc1, fc2]\ninputs: [clean, noisy]\nlabel_noise: [0, 0.3]\nseeds: [0, 1]\n"
    "analysis: {bootstrap: 50}\n"
    "probes:\n  - {kind: ridge}\n  - {kind: aggregate, epochs: 5, batch_size: 32, width: 8}\n"
    "  - {kind: concat}\n"
)


@pytest.fixture(scope="module")
def joint(tmp_path_factory, shared_cache):
    folder = tmp_path_factory.mktemp("joint")
    text = trained_spec("j", n_train=80, n_test=60, grid="sigma: [0.1, 1.0, 3.0]", rest=REST)
    spec = validate_text(text, overrides=[f"compute.cache={shared_cache}"])
    reprdyn.run(spec, store=folder / "j.zarr")
    return folder / "j.zarr"


def test_the_joint_probes_fill_their_variables_and_the_per_sigma_ones_are_left_alone(joint):
    ds = reprdyn.open(joint)["m"]
    acc = ds["joint_accuracy"]
    assert acc.sel(probe=["aggregate", "concat"]).notnull().all()
    assert acc.sel(probe="ridge").isnull().all()  # a per-sigma probe is not a joint one
    assert ds["accuracy"].sel(probe=["aggregate", "concat"]).isnull().all()
    ci = ds["joint_accuracy_ci"].sel(probe="aggregate")
    assert (ci.sel(bound="low") <= acc.sel(probe="aggregate") + 1e-12).all()


def test_the_mixing_weights_are_a_cube_over_sigma_and_layer_summing_to_one(joint):
    w = reprdyn.open(joint)["m"]["mixing_weights"]
    total = w.sel(probe="aggregate").sum(("sigma", "layer"))
    np.testing.assert_allclose(total.values, 1.0, rtol=1e-6)
    assert w.sel(probe="concat").isnull().all()  # concat learns no weights


def test_table_one_gains_a_third_column_with_paired_differences(joint):
    rows = rows_of(str(joint), "joint")
    assert {(r.probe, r.input, r.label_noise) for r in rows} == {
        (p, i, q) for p in ("aggregate", "concat") for i in ("clean", "noisy") for q in (0.0, 0.3)
    }
    r = rows[0]
    assert r.over_best.value == pytest.approx(r.joint_accuracy.value - r.best_accuracy.value)
    assert r.layer.endswith(" / ridge")  # the best single cell is a per-sigma probe's


def test_a_spec_with_joint_probes_alone_still_reports_their_accuracy(tmp_path, shared_cache):
    rest = "layers: [fc1, fc2]\nanalysis: {bootstrap: 20}\nprobes: [{kind: concat}]\n"
    text = trained_spec("c", n_train=60, n_test=40, grid="sigma: [0.1, 1.0]", rest=rest)
    spec = validate_text(text, overrides=[f"compute.cache={shared_cache}"])
    reprdyn.run(spec, store=tmp_path / "c.zarr")
    (row,) = rows_of(str(tmp_path / "c.zarr"), "joint")
    assert row.layer == "–" and np.isnan(row.best_accuracy.value)  # nothing per sigma to compare
    assert row.joint_accuracy.low <= row.joint_accuracy.value <= row.joint_accuracy.high
