"""Metric `cknna`: CKNNA (Huh et al. 2024) between a layer's features at every pair of sigmas, on
the same seeded test subset as `cka`: the alignment of the two kernels on mutual k-nearest
neighbours, with the unbiased HSIC (docs/theory.md §6)."""

from __future__ import annotations

from typing import TYPE_CHECKING

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


VARIABLES = {
    "cknna": Variable(
        ("layer", "input", "sigma", "sigma_ref"),
        "CKNNA between the features at sigma and at sigma_ref: unbiased HSIC on mutual top-k "
        "neighbourhoods of the L2-normalised features (test subset, k: the attribute)",
        long_name="CKNNA",
    ),
}


def compute(cell) -> dict:
    from ..maths.distances import cknna_matrix

    X = cell.X
    k = min(cell.spec.cknna.k, len(X[0]) - 1)
    return {"cknna": cknna_matrix(X, k).reshape(1, 1, len(X), -1)}  # (layer, input, S, S_ref)


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
    reads={"pooled"},
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
