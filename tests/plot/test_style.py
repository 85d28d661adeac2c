"""The figure helpers: the value a figure reads (the summary's sigma*, the lowest label noise),
a missing variable named with the metric that makes it, panels, the sigma axis, labels."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

from reprdyn.plot import style


def test_mode_is_the_most_common_finite_value_lowest_on_ties():
    assert style.mode(np.array([2.0, 1.0, 2.0, np.nan, np.nan, np.nan])) == 2.0
    assert style.mode(np.array([3.0, 1.0])) == 1.0 and np.isnan(style.mode(np.array([np.nan])))


def test_lowest_of_reads_the_lowest_label_noise_with_a_model_dim():
    da = xr.DataArray(np.arange(6.0).reshape(3, 2), dims=("label_noise", "sigma"))
    ds = xr.Dataset({"accuracy": da.assign_coords(label_noise=[0.4, 0.0, 0.2], sigma=[1, 2])})
    out = style.lowest_of(ds, "accuracy", "curves")
    assert out.dims == ("model", "sigma") and out.values.tolist() == [[2.0, 3.0]]
    assert float(out.label_noise) == 0.0 and style.lowest_of(ds, "csnr") is None
    with pytest.raises(style.FigureError, match="add 'csnr' to the spec's metrics"):
        style.lowest_of(ds, "csnr_overall", "csnr")


def test_panels_hide_the_unused_axes():
    fig, axes = style.panels(4, cols=3)
    assert len(axes) == 4 and sum(ax.get_visible() for ax in fig.axes) == 4 and len(fig.axes) == 6
    plt.close(fig)


@pytest.mark.parametrize("sigma, scale", [([0.1, 1.0], "log"), ([0.0, 0.1, 1.0], "symlog")])
def test_the_sigma_axis_is_logarithmic(sigma, scale):
    fig, ax = plt.subplots()
    style.sigma_axis(ax, np.array(sigma))
    assert ax.get_xscale() == scale and ax.get_xlabel() == "noise level σ"
    plt.close(fig)


def test_series_labels_name_what_varies():
    da = xr.DataArray(
        np.ones((2, 1, 3)), dims=("layer", "seed", "sigma"),
        coords={"layer": ["mid", "out"], "seed": [0], "sigma": [1, 2, 3]},
    )  # fmt: skip
    assert [name for name, _ in style.series(da, ("sigma",))] == ["mid", "out"]
    assert style.label({"layer": "mid", "seed": 1}) == "mid, seed=1"
