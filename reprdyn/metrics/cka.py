"""Metric `cka`: linear CKA between a layer's features at every pair of sigmas, on the same seeded
test subset as `sw_distance` (docs/theory.md §6)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Figure, Metric, Stage, Variable

if TYPE_CHECKING:  # annotations only: drawing imports matplotlib when it draws
    import matplotlib.pyplot as plt
    import xarray as xr


VARIABLES = {
    "cka": Variable(
        ("layer", "input", "sigma", "sigma_ref"),
        "linear CKA between the features at sigma and at sigma_ref (test subset)",
        long_name="linear CKA",
    ),
}


def compute(cell) -> dict:
    from ..maths.distances import cka_matrix

    X = cell.X
    return {"cka": cka_matrix(X).reshape(1, 1, len(X), -1)}  # (layer, input, sigma, sigma_ref)


def figure(ds: xr.Dataset, dataset: str, sweep: list[str]) -> plt.Figure:
    from ..plot import style

    return style.sigma_heatmaps(ds, dataset, "cka", "linear CKA")


METRIC = Metric(
    name="cka",
    stage=Stage.ANALYSIS,
    about="linear CKA between a layer's features at every pair of sigmas",
    variables=VARIABLES,
    compute=compute,
    reads={"pooled"},
    figures=(
        Figure(
            "cka",
            "linear CKA between every pair of sigmas, a heatmap per layer and sweep point",
            figure,
        ),
    ),
    order=80,
)
