"""Stage `analysis`: how one layer's features move across sigma (docs/theory.md §6, Figure 7).

Per (model, layer, input), on a seeded subset of the test split: the sliced
Wasserstein distance from each sigma's features to those at the reference sigma
(the probes' validation choice), and linear CKA between every pair of sigmas.
"""

from __future__ import annotations

import numpy as np

from .. import cube, store
from ..caches import Context
from ..metrics.distances import cka_matrix, sliced_wasserstein
from ..plan import Task


def run(task: Task, ctx: Context) -> None:
    spec, data, cfg = ctx.spec, ctx.data.get(task.dataset), ctx.spec.analysis
    model, r, layer, inp = (task.param(k) for k in ("model", "replicate", "layer", "input"))
    feats = store.open_group(ctx.path, store.group(task.dataset, "features", layer))["features"]
    where = {"input": inp, "replicate": r, **({"model": model} if spec.multi_model else {})}
    feats = feats.sel(where)  # (S, N, C)
    test = np.flatnonzero(data.split == "test")
    rows = test[_subset(len(test), cfg.max_samples, cfg.seed)]
    X = [
        feats.isel(sigma=s, sample=rows).values.astype(np.float64) for s in range(len(spec.sigmas))
    ]  # S x (n, C)
    lead = (1,) * len(cube.model_dims(spec))
    values = {}
    if "sw_distance" in spec.metrics:
        has_probe = any(layer in spec.probe_layers(p) for p in spec.probes)
        ref = reference_sigma(ctx, task.dataset, model, r, layer, inp) if has_probe else None
        sw = np.full(len(X), np.nan)
        if ref is not None:
            sw = np.array([sliced_wasserstein(Xs, X[ref], cfg.projections, cfg.seed) for Xs in X])
        values["sw_distance"] = sw.reshape(*lead, -1, 1, 1)  # (sigma, layer, input)
        values["sw_reference"] = np.full(
            (*lead, 1, 1), spec.sigmas[ref] if ref is not None else np.nan
        )
    if "cka" in spec.metrics:
        # (layer, input, sigma, sigma_ref)
        values["cka"] = cka_matrix(X).reshape(*lead, 1, 1, len(X), -1)
    coords = {
        "layer": [layer],
        "input": [inp],
        "sigma": spec.sigmas,
        "sigma_ref": spec.sigmas,
        **cube.model_sel(spec, model, r),
    }
    store.write_region(
        ctx.path, store.group(task.dataset, "metrics"), cube.labelled(spec, values, **coords)
    )


def _subset(n: int, max_samples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 0x414E])  # "AN": the analysis subset stream
    return np.sort(rng.permutation(n)[:max_samples])


def reference_sigma(ctx: Context, dataset: str, model: str, r: int, layer: str, inp: str) -> int:
    """Index of the best sigma on validation for the first probe reading `layer` (lowest label
    noise, mean over seeds); the probes' own choice, never the test split."""
    spec = ctx.spec
    probe = next(p for p in spec.probes if layer in spec.probe_layers(p))
    val = store.open_group(ctx.path, store.group(dataset, "metrics"))["val_accuracy"]
    val = val.sel(
        layer=layer,
        input=inp,
        probe=probe.label,
        replicate=r,
        **({"model": model} if spec.multi_model else {}),
    )
    curve = val.isel(label_noise=0).mean("seed").values  # (S,)
    return int(np.nanargmax(curve))
