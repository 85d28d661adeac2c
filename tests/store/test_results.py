"""Reading a store: the metric cube round-trips, clear errors for what is not a store."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
import xarray.testing as xrt

from reprdyn import store


def test_metric_cube_round_trip(small_store, small_spec):
    res = store.open_store(small_store)
    ds = res["toy"].load()
    again = xr.open_zarr(str(small_store), group="datasets/toy/metrics", consolidated=False).load()
    xrt.assert_allclose(
        ds,
        again.assign_coords(
            {c: again[c].astype(object) for c in ("layer", "probe", "input", "class")}
        ),
    )
    acc = ("replicate", "sigma", "layer", "label_noise", "seed", "probe", "input")
    assert ds["accuracy"].dims == acc and ds["accuracy_ci"].dims == (*acc, "bound")
    assert ds["accuracy_boot"].dims == (*acc, "boot") and ds.sizes["boot"] == 1000
    assert ds["class_accuracy"].dims[-1] == "class" and ds["csnr"].dims == (
        "replicate",
        "sigma",
        "layer",
        "input",
        "class",
    )
    assert ds["csnr_theory"].dims == ("sigma",)
    assert ds["ensemble_accuracy"].dims == ("replicate", *acc[2:])
    for v in ds.data_vars:
        if v != "ensemble_members":
            assert np.isfinite(ds[v].values).all(), v
    f = res.features("toy", "output")["features"]
    assert f.dims == ("replicate", "sigma", "input", "sample", "channel")
    assert f.shape == (1, 5, 1, 500, 12)
    assert set(f["split"].values) == {"train", "test"}
    np.testing.assert_array_equal(res.data("toy")["label"].values, f["label"].values)
    assert res.data("toy")["U"].shape == (3, 12, 2)


def test_open_errors(tmp_path, small_store):
    with pytest.raises(store.StoreError, match="not a reprdyn store"):
        store.open_store(tmp_path / "nope")
    with pytest.raises(store.StoreError, match="unknown dataset 'x'"):
        store.open_store(small_store)["x"]
    with pytest.raises(store.StoreError, match="unknown layer 'h'"):
        store.open_store(small_store).features("toy", "h")
