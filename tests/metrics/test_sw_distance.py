"""Metric `sw_distance`: the reference sigma is the probes' validation choice (lowest label noise,
mean over seeds, never the test split), the distance to it is POT's sliced W2, and a layer no probe
reads gets NaN; and a spec that asks for it without `cka` runs."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import xarray as xr
from helpers import molrg_spec

import reprdyn
from reprdyn.maths.distances import sliced_wasserstein
from reprdyn.metrics import sw_distance
from reprdyn.spec import validate_text
from reprdyn.stages.base import Cell

SPEC = validate_text(
    molrg_spec(
        sigma="[0.1, 0.5, 1.0, 2.0]",
        rest="label_noise: [0.0, 0.4]\nseeds: [0, 1]\nprobes: [{kind: ridge}]\n"
        "metrics: [accuracy, sw_distance]\nanalysis: {projections: 64, seed: 5}\n",
    )
)


class _IO:
    """What the analysis stage's io hands the metric: the cube with the probes' val_accuracy."""

    def __init__(self, val):  # (label_noise, seed, sigma)
        dims = ("label_noise", "seed", "sigma")
        coords = {"label_noise": [0.0, 0.4], "seed": [0, 1], "sigma": SPEC.sigmas}
        va = xr.DataArray(
            np.asarray(val)[None, None, None, None],
            dims=("replicate", "layer", "input", "probe", *dims),
        )
        cell = {"replicate": [0], "layer": ["output"], "input": ["clean"], "probe": ["ridge"]}
        va = va.assign_coords({**coords, **cell})
        self.ds = xr.Dataset({"val_accuracy": va})

    def metrics(self, dataset):
        return self.ds


def _cell(val, X, layer="output"):
    p = NS(model="", replicate=0, layer=layer, input="clean")
    return Cell(spec=SPEC, dataset="m", params=p, io=_IO(val), X=X)


def test_the_reference_is_the_validation_choice_at_the_lowest_label_noise():
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(60, 4)) + s for s in range(4)]
    val = np.zeros((2, 2, 4))
    val[0, 0] = [0.5, 0.9, 0.6, 0.1]  # label noise 0: seed 0 peaks at sigma 0.5 ...
    val[0, 1] = [0.5, 0.6, 0.8, 0.1]  # ... seed 1 at 1.0; their mean peaks at 0.5 (0.75 > 0.7)
    val[1] = [0.0, 0.0, 0.0, 1.0]  # label noise 0.4 peaks elsewhere and is not read
    out = sw_distance.compute(_cell(val, X))
    assert out["sw_reference"].item() == 0.5
    want = [sliced_wasserstein(x, X[1], 64, 5) for x in X]
    np.testing.assert_allclose(out["sw_distance"][:, 0, 0], want, rtol=0, atol=0)
    assert out["sw_distance"][1, 0, 0] == 0.0 and (out["sw_distance"][[0, 2, 3], 0, 0] > 0).all()


def test_a_layer_no_probe_reads_has_no_distance():
    spec = validate_text(molrg_spec(rest="probes: [{kind: ridge, layers: [output]}]\n"))
    cell = Cell(
        spec=spec, dataset="m", params=NS(layer="pixels"), io=None, X=[np.zeros((3, 2))] * 3
    )
    out = sw_distance.compute(cell)
    assert np.isnan(out["sw_distance"]).all() and np.isnan(out["sw_reference"]).all()


def test_a_spec_with_sw_distance_and_without_cka_runs(tmp_path):
    reprdyn.run(SPEC, store=tmp_path / "s.zarr")
    ds = reprdyn.open(tmp_path / "s.zarr")["m"]
    assert "cka" not in ds and np.isfinite(ds["sw_distance"].values).all()
