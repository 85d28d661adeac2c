"""Metric `cka`: linear CKA between a layer's features at every pair of sigmas, on the same seeded
test subset as `sw_distance` (docs/theory.md §6)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

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

    m = style.with_model(style.need(ds, "cka", "cka")).mean("replicate").load()
    maps = list(style.series(m, ("sigma", "sigma_ref")))
    fig, axes = style.panels(len(maps))
    every = 2 if len(m.sigma) > 10 else 1  # every other tick on long grids, so labels stay legible
    ticks = [f"{s:.3g}" if i % every == 0 else "" for i, s in enumerate(m.sigma.values)]
    lo = float(np.nanmin([np.nanmin(v.values) for _, v in maps]))
    vmin = min(
        np.floor(lo * 20) / 20, 0.95
    )  # the data's range, in steps of 0.05, so contrast shows
    for ax, (label, v) in zip(axes, maps):
        im = ax.imshow(v.values, vmin=vmin, vmax=1, cmap="magma", origin="lower")
        ax.set_xticks(range(len(ticks)), ticks, rotation=90)
        ax.set_yticks(range(len(ticks)), ticks)
        ax.set_xlabel("σ (reference)")
        ax.set_ylabel("σ")
        ax.grid(False)
        ax.set_title(f"{dataset}: {label}")
    fig.colorbar(im, ax=axes, shrink=0.8, label=f"linear CKA (scale from {vmin:g})")
    return fig


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
