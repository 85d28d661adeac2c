"""Metric `sw_distance`: how far each sigma's features of a layer lie from those at the reference
sigma (the probes' validation choice), as a sliced Wasserstein distance on a seeded subset of the
test split (docs/theory.md §6, Figure 7)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .base import Figure, Metric, Stage, Variable

if TYPE_CHECKING:  # annotations only: drawing imports matplotlib when it draws
    import matplotlib.pyplot as plt
    import xarray as xr

VARIABLES = {
    "sw_distance": Variable(
        ("sigma", "layer", "input"),
        "sliced Wasserstein distance between the features at sigma and at sw_reference (test "
        "subset)",
        long_name="sliced Wasserstein distance to the reference sigma",
    ),
    "sw_reference": Variable(
        ("layer", "input"),
        "the best sigma on validation of the first probe reading the layer (lowest label noise)",
        long_name="reference sigma of the sliced Wasserstein distance",
    ),
}


def compute(cell) -> dict:
    """The distance from each sigma's features (`cell.X`, a list of (n, C)) to those at the
    reference sigma; NaN where no probe reads the layer (no reference)."""
    from ..maths.distances import sliced_wasserstein

    spec, p, cfg, X = cell.spec, cell.params, cell.spec.analysis, cell.X
    has_probe = any(p.layer in spec.probe_layers(q) for q in _per_sigma(spec))
    ref = reference_sigma(spec, cell.io, cell.dataset, p) if has_probe else None
    sw = np.full(len(X), np.nan)
    if ref is not None:
        sw = np.array([sliced_wasserstein(Xs, X[ref], cfg.projections, cfg.seed) for Xs in X])
    at = spec.sigmas[ref] if ref is not None else np.nan
    return {"sw_distance": sw.reshape(-1, 1, 1), "sw_reference": np.full((1, 1), at)}


def _per_sigma(spec) -> list:
    """The classification probes fitted at each sigma (not the joint ones, nor segmentation)."""
    return [q for q in spec.probes if not (q.dense or q.joint)]


def reference_sigma(spec, io, dataset: str, p) -> int:
    """Index of the best sigma on validation for the first probe reading the layer, at the lowest
    label noise (by value), mean over seeds; the probes' own choice, never the test split."""
    from ..stages.base import model_at

    probe = next(q for q in _per_sigma(spec) if p.layer in spec.probe_layers(q))
    val = io.metrics(dataset)["val_accuracy"]
    where = {"layer": p.layer, "input": p.input, "probe": probe.label, "replicate": p.replicate}
    val = val.sel({**where, **model_at(spec, p.model)})
    curve = val.sel(label_noise=min(spec.label_noise)).mean("seed").values  # (S,)
    return int(np.nanargmax(curve))


# --- figure ---------------------------------------------------------------------------------


def dae_vs_diffusion(ds: xr.Dataset, dataset: str, sweep: list[str]) -> plt.Figure:
    from ..plot import style

    if "model" not in ds.dims or ds.sizes["model"] < 2:
        raise style.FigureError(
            "figure 'dae-vs-diffusion' compares models; it needs a spec with `models:` (such as "
            "specs/dae-vs-diffusion.yaml)"
        )
    acc = style.lowest(style.need(ds, "accuracy", "dae-vs-diffusion"))
    acc = acc.mean(style.fits(acc)).load()
    sw = style.need(ds, "sw_distance", "dae-vs-diffusion").mean("replicate").load()
    rows = [
        (
            label,
            probe,
            a,
            sw.sel({d: a[d].item() for d in a.coords if d in sw.dims and a[d].ndim == 0}),
        )
        for label, a in style.series(acc, ("sigma", "model", "probe"))
        for probe in [
            next((p for p in a.probe.values if np.isfinite(a.sel(probe=p).values).any()), None)
        ]
        if probe is not None
    ]
    fig, axes = style.panels(2 * len(rows), cols=2)
    for k, (label, probe, a, s) in enumerate(rows):
        a1, a2 = axes[2 * k], axes[2 * k + 1]
        for model in a.model.values:
            a1.plot(
                a.sigma.values, a.sel(model=model, probe=probe).values, marker="o", label=str(model)
            )
            a2.plot(s.sigma.values, s.sel(model=model).values, marker="o", label=str(model))
        for ax, ylabel in ((a1, "test accuracy"), (a2, "sliced W₂ to the best σ")):
            style.sigma_axis(ax, a.sigma.values)
            ax.set_ylabel(ylabel)
        a1.set_title(f"{dataset}: {label}, probe {probe}")
        a2.set_title(f"{label}: distance to the features at the best σ")
    style.figure_legend(fig, axes[0])
    return fig


METRIC = Metric(
    name="sw_distance",
    stage=Stage.ANALYSIS,
    about="sliced Wasserstein distance from each sigma's features to those at the probes' sigma*",
    variables=VARIABLES,
    compute=compute,
    reads={"pooled", "labels", "curves"},
    check_var="",  # NaN by design where no probe reads the layer: verify cannot tell
    figures=(
        Figure(
            "dae-vs-diffusion",
            "accuracy and sliced Wasserstein distance against sigma per model, a row per layer "
            "(Figure 7)",
            dae_vs_diffusion,
            at_lowest_noise=True,
        ),
    ),
    export={"sw_distance": None},
    order=70,
)
