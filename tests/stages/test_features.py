"""The features stage: the raw-input baseline is flat for clean input and the same in every
replicate."""

from __future__ import annotations

import xarray.testing as xrt

import reprdyn


def test_pixel_baseline_is_flat_for_clean_input_and_the_same_in_every_replicate(replicated):
    _, tmp, _ = replicated
    ds = reprdyn.open(tmp / "r.zarr")["m"]
    px = ds["accuracy"].sel(layer="pixels", probe="ridge", model="mlp", drop=True)
    assert (px.sel(input="clean").std("sigma") == 0).all()  # one fit serves every sigma
    xrt.assert_equal(px.sel(replicate=1, drop=True), px.sel(replicate=0, drop=True))
    assert px.sel(input="noisy").notnull().all()
    # exact posterior and trained model see the same clean data: the same baseline (noisy input
    # is each model's own noise)
    xrt.assert_equal(
        px.sel(replicate=0, input="clean", drop=True),
        ds["accuracy"].sel(
            layer="pixels", probe="ridge", model="exact", replicate=0, input="clean", drop=True
        ),
    )
