"""Stage `analysis`: how one layer's features move across sigma (docs/theory.md §6, Figure 7).

Per (model, replicate, layer, input), on a seeded subset of the test split: the sliced Wasserstein
distance from each sigma's features to those at the reference sigma (the probes' validation
choice), and linear CKA between every pair of sigmas.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass

import numpy as np

from ..spec.kinds import replicates
from .base import Stage, Task, Variable, base, key, labelled, model_dims, model_sel

STAGE = Stage.ANALYSIS
CHUNKS = {"model": 1, "replicate": 1, "layer": 1, "input": 1}
VARIABLES = {
    "sw_distance": Variable(
        ("sigma", "layer", "input"),
        STAGE,
        ("sw_distance",),
        "sliced Wasserstein distance between the features at sigma and at sw_reference (test "
        "subset)",
        long_name="sliced Wasserstein distance to the reference sigma",
    ),
    "sw_reference": Variable(
        ("layer", "input"),
        STAGE,
        ("sw_distance",),
        "the best sigma on validation of the first probe reading the layer (lowest label noise)",
        long_name="reference sigma of the sliced Wasserstein distance",
    ),
    "cka": Variable(
        ("layer", "input", "sigma", "sigma_ref"),
        STAGE,
        ("cka",),
        "linear CKA between the features at sigma and at sigma_ref (test subset)",
        long_name="linear CKA",
    ),
}


@dataclass(frozen=True)
class Params:
    model: str
    replicate: int
    layer: str
    input: str


def plan(spec, upstream) -> list[Task]:
    """One task per (dataset, model, replicate, layer, input), after that replicate's features and
    the probes of that layer and input (they choose the reference sigma)."""
    asked = sorted({"sw_distance", "cka"} & set(spec.metrics))
    if not asked:
        return []
    what = (asked, spec.analysis.model_dump())
    out = []
    for ds in spec.datasets:
        for name, cfg in spec.model_items():
            for r in range(replicates(cfg)):
                feats = upstream.of(Stage.FEATURES, ds.name, model=name, replicate=r)
                for layer in spec.hooked_layers:
                    for inp in spec.inputs:
                        p = Params(name, r, layer, inp)
                        probes = upstream.of(
                            Stage.PROBE, ds.name, model=name, replicate=r, layer=layer, input=inp
                        )
                        deps = tuple(t.key for t in feats + probes)
                        pairs = tuple(zip(("model", "replicate", "layer", "input"), astuple(p)))
                        k = key("analysis", *base(spec, ds), pairs, what, deps)
                        out.append(Task(STAGE, ds.name, p, k, deps))
    return out


def run(task: Task, ctx, io) -> None:
    from ..maths.distances import cka_matrix, sliced_wasserstein

    spec, data, cfg, p = ctx.spec, ctx.data.get(task.dataset), ctx.spec.analysis, task.params
    feats = io.features(task.dataset, p.layer)
    where = {"input": p.input, "replicate": p.replicate, **_model(spec, p.model)}
    feats = feats.sel(where)  # (S, N, C)
    test = np.flatnonzero(data.split == "test")
    rows = test[_subset(len(test), cfg.max_samples, cfg.seed)]
    S = len(spec.sigmas)
    X = [feats.isel(sigma=s, sample=rows).values.astype(np.float64) for s in range(S)]  # (n, C)
    lead = (1,) * len(model_dims(spec))
    values = {}
    if "sw_distance" in spec.metrics:
        has_probe = any(p.layer in spec.probe_layers(q) for q in spec.probes)
        ref = reference_sigma(spec, io, task.dataset, p) if has_probe else None
        sw = np.full(len(X), np.nan)
        if ref is not None:
            sw = np.array([sliced_wasserstein(Xs, X[ref], cfg.projections, cfg.seed) for Xs in X])
        values["sw_distance"] = sw.reshape(*lead, -1, 1, 1)  # (sigma, layer, input)
        at = spec.sigmas[ref] if ref is not None else np.nan
        values["sw_reference"] = np.full((*lead, 1, 1), at)
    if "cka" in spec.metrics:
        values["cka"] = cka_matrix(X).reshape(*lead, 1, 1, len(X), -1)  # (layer, input, sigma, ref)
    coords = {
        "layer": [p.layer],
        "input": [p.input],
        "sigma": spec.sigmas,
        "sigma_ref": spec.sigmas,
        **model_sel(spec, p.model, p.replicate),
    }
    io.write(task.dataset, labelled(spec, VARIABLES, values, **coords))


def _model(spec, model: str) -> dict:
    return {"model": model} if spec.multi_model else {}


def _subset(n: int, max_samples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 0x414E])  # "AN": the analysis subset stream
    return np.sort(rng.permutation(n)[:max_samples])


def reference_sigma(spec, io, dataset: str, p: Params) -> int:
    """Index of the best sigma on validation for the first probe reading the layer, at the lowest
    label noise (by value), mean over seeds; the probes' own choice, never the test split."""
    probe = next(q for q in spec.probes if p.layer in spec.probe_layers(q))
    val = io.metrics(dataset)["val_accuracy"]
    where = {"layer": p.layer, "input": p.input, "probe": probe.label, "replicate": p.replicate}
    val = val.sel({**where, **_model(spec, p.model)})
    curve = val.sel(label_noise=min(spec.label_noise)).mean("seed").values  # (S,)
    return int(np.nanargmax(curve))
