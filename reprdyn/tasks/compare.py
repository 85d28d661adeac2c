"""Stage `compare`: the paper's comparisons as paired differences of test accuracy at sigma*, with
intervals (docs/theory.md §8).

Each comparison is one cell's `best_accuracy` minus another's, in the same replicate and seed:
clean minus noisy input (Figure 1), a layer minus the raw-input baseline `pixels`, and the
diffusion model minus each DAE (Figure 7). Every cell of a dataset was scored on the same
bootstrap resamples of its validation and test samples, so the resampled differences
(`*_boot`) are paired, and their percentile interval is the difference's (`*_ci`). The ensemble's
gain over its own best sigma is a difference within one cell, made by the probe stage.
"""

from __future__ import annotations

from .. import cube, store
from ..caches import Context
from ..metrics.uncertainty import interval
from ..plan import Task
from ..spec.kinds import PIXELS


def run(task: Task, ctx: Context) -> None:
    import xarray as xr

    spec = ctx.spec
    grp = store.group(task.dataset, "metrics")
    ds = store.open_group(ctx.path, grp)
    sources = {"": ds["best_accuracy"].load()}  # the point values, and their resamples
    if spec.bootstrap:
        sources["_boot"] = ds["best_accuracy_boot"].load()
    wanted = cube.wanted(spec)
    out = {}
    for name, diff in DIFFERENCES.items():
        if name not in wanted:
            continue
        for suffix, acc in sources.items():
            out[name + suffix] = diff(spec, acc).transpose(
                *cube.VARIABLES[name + suffix].dims_in(spec)
            )
        if spec.bootstrap:
            d = out[name]
            ci = interval(out[f"{name}_boot"].values, spec.analysis.confidence)  # (..., 2)
            coords = {**{k: d[k] for k in d.dims}, "bound": list(cube.BOUNDS)}
            out[f"{name}_ci"] = xr.DataArray(ci, dims=(*d.dims, "bound"), coords=coords)
    store.write_region(ctx.path, grp, xr.Dataset(out))


def clean_minus_noisy(spec, acc):
    """Clean input minus noisy input, in every other coordinate (Figure 1)."""
    return acc.sel(input="clean", drop=True) - acc.sel(input="noisy", drop=True)


def features_minus_pixels(spec, acc):
    """Each layer minus the raw-input baseline; NaN at the baseline itself."""
    out = acc - acc.sel(layer=PIXELS, drop=True)
    return out.where(out.layer != PIXELS)


def diffusion_minus_dae(spec, acc):
    """At each DAE model: the first diffusion model minus it (Figure 7); NaN at other models."""
    kinds = {name: cfg.kind for name, cfg in spec.model_items()}
    diffusion = next(name for name, kind in kinds.items() if kind == "diffusion")
    out = acc.sel(model=diffusion, drop=True) - acc
    return out.where(out.model.isin([m for m, kind in kinds.items() if kind == "dae"]))


# the comparisons this stage makes, by variable name (each also has `_boot` and `_ci` beside it)
DIFFERENCES = {
    "clean_minus_noisy": clean_minus_noisy,
    "features_minus_pixels": features_minus_pixels,
    "diffusion_minus_dae": diffusion_minus_dae,
}
