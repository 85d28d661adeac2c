"""The compare stage: each comparison is the paired difference of its cells, resample by
resample."""

from __future__ import annotations

import numpy as np
import xarray.testing as xrt

import reprdyn


def test_comparisons_are_the_paired_differences(replicated):
    from reprdyn.maths.uncertainty import interval

    _, tmp, _ = replicated
    ds = reprdyn.open(tmp / "r.zarr")["m"].load()
    best, boot = ds["best_accuracy"], ds["best_accuracy_boot"]
    cn = best.sel(input="clean", drop=True) - best.sel(input="noisy", drop=True)
    xrt.assert_allclose(ds["clean_minus_noisy"], cn.transpose(*ds["clean_minus_noisy"].dims))
    draws = (boot.sel(input="clean", drop=True) - boot.sel(input="noisy", drop=True)).transpose(
        *ds["clean_minus_noisy_boot"].dims
    )
    np.testing.assert_array_equal(ds["clean_minus_noisy_boot"].values, draws.values)
    np.testing.assert_array_equal(
        ds["clean_minus_noisy_ci"].values, interval(draws.values, 0.95), strict=False
    )
    fp = ds["features_minus_pixels"]
    want = best.sel(layer="output", drop=True) - best.sel(layer="pixels", drop=True)
    xrt.assert_allclose(fp.sel(layer="output", drop=True), want.transpose(*want.dims))
    assert fp.sel(layer="pixels").isnull().all()
    rows = __import__("reprdyn.read.summary", fromlist=["compare"]).compare(str(tmp / "r.zarr"))
    assert {r.comparison for r in rows} == {
        "ensemble_gain",
        "clean_minus_noisy",
        "noisy_ensemble_minus_clean",
        "features_minus_pixels",
    }


def test_the_noisy_ensemble_is_compared_with_clean_features_at_sigma_star(replicated):
    """CleanDIFT's question: the noisy-input ensemble over sigma minus clean input at sigma*,
    resample by resample (both read the same test resamples)."""
    _, tmp, _ = replicated
    ds = reprdyn.open(tmp / "r.zarr")["m"].load()
    ens, best = ds["ensemble_accuracy"], ds["best_accuracy"]
    want = ens.sel(input="noisy", drop=True) - best.sel(input="clean", drop=True)
    got = ds["noisy_ensemble_minus_clean"]
    xrt.assert_allclose(got, want.transpose(*got.dims))
    draws = ds["ensemble_accuracy_boot"].sel(input="noisy", drop=True) - ds[
        "best_accuracy_boot"
    ].sel(input="clean", drop=True)
    got = ds["noisy_ensemble_minus_clean_boot"]
    np.testing.assert_array_equal(got.values, draws.transpose(*got.dims).values)
