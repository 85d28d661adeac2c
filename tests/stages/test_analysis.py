"""The analysis stage: a run stores every analysis; analyses need their inputs."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import SMALL

import reprdyn
from reprdyn.spec import SpecError, validate_text

ANALYSED = (
    SMALL.replace("label_noise: [0.0, 0.4]", "label_noise: [0.0]")
    + "metrics: [accuracy, csnr, unimodality, posterior_mse, sw_distance, cka, generalization]\n"
    + "analysis: {max_samples: 150, projections: 64}\ngeneration: {samples: 64, steps: 16}\n"
)


def test_a_run_stores_every_analysis(tmp_path):
    spec = validate_text(ANALYSED)
    reprdyn.run(spec, store=tmp_path / "a.zarr")
    ds = reprdyn.open(tmp_path / "a.zarr")["toy"].load()
    sw, ref = ds["sw_distance"].squeeze(), float(ds["sw_reference"].squeeze())
    assert float(sw.sel(sigma=ref)) == 0 and (sw.drop_sel(sigma=ref) > 0).all()
    # the reference is the probes' own choice on validation
    best = ds["best_sigma"].squeeze().values
    assert ref in np.atleast_1d(best)
    cka = ds["cka"].squeeze().values
    np.testing.assert_allclose(np.diag(cka), 1, rtol=1e-9)
    np.testing.assert_allclose(cka, cka.T, rtol=1e-9)
    mse = ds["posterior_mse"].values
    assert (np.diff(mse) > 0).all()  # denoising gets harder with sigma
    assert (
        0.9 <= float(ds["generalization"].squeeze()) <= 1
    )  # the exact posterior generates fresh samples
    u = ds["unimodal"].squeeze(drop=True)
    assert set(np.unique(u.values)) <= {0.0, 1.0} and ds["unimodal"].attrs["tolerance"] == 0.05
    assert np.allclose(ds["peak_sigma"], ds["accuracy"].idxmax("sigma"))


def test_analyses_need_their_inputs():
    with pytest.raises(SpecError, match="read\\(s\\) the probes' accuracy curves"):
        validate_text(SMALL + "metrics: [csnr, sw_distance]\n")
    dae = (
        SMALL.replace(
            "model: {kind: molrg-optimal}",
            "model: {kind: dae, network: {kind: mlp}, precond: {kind: edm}, train: {data: toy, "
            "epochs: 1}}",
        )
        + "metrics: [accuracy, generalization]\n"
    )
    with pytest.raises(SpecError, match="a DAE denoises at its own sigmas only"):
        validate_text(dae)
