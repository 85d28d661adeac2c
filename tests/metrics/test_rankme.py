"""Metric `rankme`: label-free scores at each sigma, the sigma each picks, and the regret of
choosing (layer, sigma) without labels, on cubes whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from helpers import SMALL

from reprdyn.maths.uncertainty import interval
from reprdyn.metrics import rankme
from reprdyn.spec import validate_text
from reprdyn.stages.base import Cell


def test_each_score_picks_its_sigma():
    spec = validate_text(SMALL)  # five sigmas
    rng = np.random.default_rng(0)
    # sigma index 3 spreads over six directions (highest rank); index 1 decays as i^-1
    X = [rng.normal(size=(300, 6)) * np.array([1, 0.1, 0.01, 0.01, 0.01, 0.01])] * 5
    X = list(X)
    X[3] = rng.normal(size=(300, 6))
    X[1] = rng.normal(size=(300, 6)) * np.sqrt(1 / np.arange(1, 7))
    got = rankme.compute(Cell(spec=spec, X=X))
    assert got["rankme"].shape == (5, 1, 1)
    assert int(np.argmax(got["rankme"][:, 0, 0])) == 3
    assert int(np.argmin(np.abs(got["alpha_req"][:, 0, 0] - 1))) == 1
    picks = got["sigma_star_label_free"][0, 0]
    assert picks.tolist() == [spec.sigmas[3], spec.sigmas[1]]


def _cube(B: int = 40) -> xr.Dataset:
    """Two layers, three sigmas, one replicate and seed: validation prefers (a, 1.0), RankMe
    (b, 0.1), alpha-ReQ (a, 1.0)."""
    rng = np.random.default_rng(1)
    sig, layers = [0.1, 1.0, 10.0], ["a", "b"]
    test = np.array([[0.6, 0.7], [0.9, 0.75], [0.5, 0.5]])  # (sigma, layer)
    val = np.array([[0.6, 0.7], [0.95, 0.8], [0.5, 0.5]])
    boot = test[..., None] + rng.normal(0, 0.02, size=(3, 2, B))
    rm = np.array([[1.0, 9.0], [5.0, 2.0], [1.0, 1.0]])
    al = np.array([[3.0, 3.0], [1.05, 2.0], [0.2, 0.5]])
    dims = ("model", "replicate", "sigma", "layer", "label_noise", "seed", "probe", "input")

    def probe(x, *extra):
        return (*dims, *extra), x.reshape(1, 1, 3, 2, 1, 1, 1, 1, *x.shape[2:])

    def score(x):
        return ("model", "replicate", "sigma", "layer", "input"), x.reshape(1, 1, 3, 2, 1)

    return xr.Dataset(
        {
            "accuracy": probe(test),
            "val_accuracy": probe(val),
            "accuracy_boot": probe(boot, "boot"),
            "rankme": score(rm),
            "alpha_req": score(al),
        },
        coords=dict(
            model=[""],
            replicate=[0],
            sigma=sig,
            layer=layers,
            label_noise=[0.0],
            seed=[0],
            probe=["ridge"],
            input=["clean"],
        ),  # fmt: skip
        attrs={"analysis": {"confidence": 0.9, "bootstrap": B, "seed": 0}},
    )


def test_the_regret_is_the_paired_accuracy_lost_against_validation():
    ds = _cube()
    rows = {r.score: r for r in rankme._regret_rows("d", ds)}
    r = rows["rankme"]
    assert (r.val_pick, r.pick) == ("a @ σ=1", "b @ σ=0.1")
    assert r.regret.value == pytest.approx(0.9 - 0.7)
    boot = ds["accuracy_boot"].isel(model=0, replicate=0, label_noise=0, seed=0, probe=0, input=0)
    # one replicate and one seed: the hierarchical draws are the resamples themselves
    diff = boot.sel(layer="a", sigma=1.0).values - boot.sel(layer="b", sigma=0.1).values
    np.testing.assert_allclose((r.regret.low, r.regret.high), interval(diff, 0.9))
    assert r.verdict == "worse than validation"
    a = rows["alpha_req"]
    assert a.pick == a.val_pick and a.regret.value == 0 and a.verdict == "as good (within noise)"
    assert r.label_noise == 0.0 and r.layer == "all"
