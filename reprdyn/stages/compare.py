"""Stage `compare`: the paper's comparisons as paired differences of test accuracy at sigma*, with
intervals (docs/theory.md §8).

Each comparison is one cell's `best_accuracy` minus another's, in the same replicate and seed:
clean minus noisy input (Figure 1), a layer minus the raw-input baseline `pixels`, and the
diffusion model minus each DAE (Figure 7); and CleanDIFT's question, the soft-voting ensemble of
noisy-input features over sigma minus clean-input features at sigma*. Every cell of a dataset was
scored on the same bootstrap resamples of its validation and test samples, so the resampled
differences (`*_boot`) are paired, and their percentile interval is the difference's (`*_ci`).
The ensemble's gain over its own best sigma is a difference within one cell, made by the probe
stage.
"""

from __future__ import annotations

from ..spec.kinds import PIXELS
from .base import (
    BOUNDS,
    PROBE_DIMS,
    NoParams,
    Stage,
    Task,
    Variable,
    base,
    key,
    wanted,
    with_uncertainty,
)

STAGE = Stage.COMPARE
CHUNKS: dict[str, int] = {}  # one task writes every comparison of a dataset
Params = NoParams


def _has_inputs(spec) -> bool:
    return {"clean", "noisy"} <= set(spec.inputs)


def _has_pixels(spec) -> bool:
    return PIXELS in spec.layers and len(spec.layers) > 1


def _has_dae(spec) -> bool:
    kinds = [cfg.kind for _, cfg in spec.model_items()]
    return "diffusion" in kinds and "dae" in kinds


def clean_minus_noisy(spec, d):
    """Clean input minus noisy input, in every other coordinate (Figure 1)."""
    acc = d["best_accuracy"]
    return acc.sel(input="clean", drop=True) - acc.sel(input="noisy", drop=True)


def noisy_ensemble_minus_clean(spec, d):
    """The noisy-input soft-voting ensemble over sigma minus clean input at sigma*; CleanDIFT
    (Stracke et al. 2025) holds that no ensemble of noisy features makes up for clean ones
    (ensemble_accuracy minus best_accuracy, paired)."""
    noisy = d["ensemble_accuracy"].sel(input="noisy", drop=True)
    return noisy - d["best_accuracy"].sel(input="clean", drop=True)


def features_minus_pixels(spec, d):
    """Each layer minus the raw-input baseline; NaN at the baseline itself."""
    acc = d["best_accuracy"]
    out = acc - acc.sel(layer=PIXELS, drop=True)
    return out.where(out.layer != PIXELS)


def diffusion_minus_dae(spec, d):
    """At each DAE model: the first diffusion model minus it (Figure 7); NaN at other models."""
    acc = d["best_accuracy"]
    kinds = {name: cfg.kind for name, cfg in spec.model_items()}
    diffusion = next(name for name, kind in kinds.items() if kind == "diffusion")
    out = acc.sel(model=diffusion, drop=True) - acc
    return out.where(out.model.isin([m for m, kind in kinds.items() if kind == "dae"]))


# the comparisons this stage makes: (the difference, the dims it has, when it applies, in words)
DIFFERENCES = {
    "clean_minus_noisy": (
        clean_minus_noisy,
        ("layer", "label_noise", "seed", "probe"),
        _has_inputs,
        "clean − noisy input",
    ),
    "noisy_ensemble_minus_clean": (
        noisy_ensemble_minus_clean,
        ("layer", "label_noise", "seed", "probe"),
        _has_inputs,
        "noisy-input ensemble − clean σ*",
    ),
    "features_minus_pixels": (
        features_minus_pixels,
        PROBE_DIMS,
        _has_pixels,
        "features − raw pixels",
    ),
    "diffusion_minus_dae": (
        diffusion_minus_dae,
        PROBE_DIMS,
        _has_dae,
        "diffusion − DAE",
    ),
}
VARIABLES = {
    n: v
    for name, (fn, dims, applies, what) in DIFFERENCES.items()
    for n, v in with_uncertainty(
        name,
        Variable(
            dims,
            (fn.__doc__ or "").split(";")[0].strip()
            + (" (best_accuracy, paired)" if "paired" not in (fn.__doc__ or "") else ""),
            stage=STAGE,
            metrics=(f"stage:{Stage.PROBE}",),  # asked for with the probes' metrics
            applies=applies,
            comparison=what,
            long_name=f"best accuracy, {what}",
        ),
    ).items()
}


def plan(spec, upstream) -> list[Task]:
    """One task per dataset, after every probe task of it, when a comparison applies."""

    made = wanted(spec, VARIABLES)
    compared = [v for v in DIFFERENCES if v in made]
    if not compared:
        return []
    out = []
    for ds in spec.datasets:
        deps = tuple(t.key for t in upstream.of(Stage.PROBE, ds.name))
        k = key("compare", *base(spec, ds), compared, spec.analysis.model_dump(), deps)
        out.append(Task(STAGE, ds.name, NoParams(), k, deps))
    return out


def run(task: Task, ctx, io) -> None:
    import xarray as xr

    from ..maths.uncertainty import interval

    spec = ctx.spec
    ds = io.metrics(task.dataset)
    read = ["best_accuracy", "ensemble_accuracy"]
    sources = {"": ds[read].load()}  # the point values, and their resamples
    if spec.bootstrap:
        boot = ds[[f"{v}_boot" for v in read]].load()
        sources["_boot"] = boot.rename({f"{v}_boot": v for v in read})
    made = wanted(spec, VARIABLES)
    out = {}
    for name, (diff, *_) in DIFFERENCES.items():
        if name not in made:
            continue
        for suffix, acc in sources.items():
            dims = VARIABLES[name + suffix].dims_in(spec)
            out[name + suffix] = diff(spec, acc).transpose(*dims)
        if spec.bootstrap:
            d = out[name]
            ci = interval(out[f"{name}_boot"].values, spec.analysis.confidence)  # (..., 2)
            coords = {**{k: d[k] for k in d.dims}, "bound": list(BOUNDS)}
            out[f"{name}_ci"] = xr.DataArray(ci, dims=(*d.dims, "bound"), coords=coords)
    io.write(task.dataset, xr.Dataset(out))
