"""Metric `cknna`: CKNNA (Huh et al. 2024) between a layer's features at every pair of sigmas,
and in a spec with several models between each pair of models at every sigma, on the same seeded
test subset as `cka`: the alignment of the two kernels on mutual k-nearest neighbours, with the
unbiased HSIC (docs/theory.md §6)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from .base import Figure, Metric, Settings, Stage, Variable

if TYPE_CHECKING:  # annotations only: drawing imports matplotlib when it draws
    import matplotlib.pyplot as plt
    import xarray as xr


class Cknna(Settings):
    """Settings of the `cknna` metric."""

    k: int = Field(
        10, ge=2, le=1000, description="neighbours per sample in the mutual top-k neighbourhoods"
    )


def _several_models(spec) -> bool:
    return spec.multi_model


VARIABLES = {
    "cknna": Variable(
        ("layer", "input", "sigma", "sigma_ref"),
        "CKNNA between the features at sigma and at sigma_ref: unbiased HSIC on mutual top-k "
        "neighbourhoods of the L2-normalised features (test subset, k: the attribute)",
        long_name="CKNNA",
    ),
    "cknna_models": Variable(
        ("layer", "input", "sigma", "model_ref"),
        "CKNNA between this model's features and model_ref's at the same layer, input, sigma and "
        "replicate (test subset; 1 against itself)",
        long_name="CKNNA between models",
        applies=_several_models,
    ),
}


def compute(cell) -> dict:
    from ..maths.distances import cknna_matrix

    spec, X = cell.spec, cell.X
    k = min(spec.cknna.k, len(X[0]) - 1)
    out = {"cknna": cknna_matrix(X, k).reshape(1, 1, len(X), -1)}  # (layer, input, S, S_ref)
    if spec.multi_model:
        out["cknna_models"] = _between_models(cell, k)
    return out


def _between_models(cell, k: int) -> np.ndarray:
    """CKNNA of this model's features against every model's, sigma by sigma: (1, 1, S, M), one
    CKNNA matrix over the models per sigma (each kernel formed once); NaN against a model that
    lacks this replicate."""
    from ..maths.distances import cknna_matrix

    spec, p = cell.spec, cell.params
    feats = cell.io.features(cell.dataset, p.layer).sel(input=p.input, replicate=p.replicate)
    names = [n for n, _ in spec.model_items()]
    me = names.index(p.model)
    out = np.full((len(cell.X), len(names)), np.nan)
    for s, mine in enumerate(cell.X):
        X = [mine if j == me else feats.sel(model=m).isel(sigma=s, sample=cell.rows).values
             for j, m in enumerate(names)]  # fmt: skip
        have = [j for j, x in enumerate(X) if np.isfinite(x).all()]  # the models with it
        out[s, have] = cknna_matrix([np.asarray(X[j], np.float64) for j in have], k)[have.index(me)]
    return out.reshape(1, 1, *out.shape)


def annotate(ds, spec, context) -> None:
    if "cknna" in ds:
        ds["cknna"].attrs["k"] = spec.cknna.k


def _rules(spec):
    n = spec.analysis.max_samples
    if n <= spec.cknna.k:
        yield (
            ("cknna", "k"),
            f"cknna.k = {spec.cknna.k} needs more than k samples; analysis.max_samples is {n}: "
            "lower k or raise max_samples",
        )


def figure(ds: xr.Dataset, dataset: str, sweep: list[str]) -> plt.Figure:
    from ..plot import style

    return style.sigma_heatmaps(ds, dataset, "cknna", "CKNNA")


METRIC = Metric(
    name="cknna",
    stage=Stage.ANALYSIS,
    about="CKNNA (mutual k-nearest-neighbour kernel alignment) between a layer's features at "
    "every pair of sigmas",
    variables=VARIABLES,
    compute=compute,
    reads={"pooled", "models"},
    settings=("cknna", Cknna),
    rules=_rules,
    annotate=annotate,
    figures=(
        Figure(
            "cknna",
            "CKNNA between every pair of sigmas, a heatmap per layer and sweep point",
            figure,
        ),
    ),
    order=81,
)
