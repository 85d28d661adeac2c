"""Stage `analysis`: how one layer's features move across sigma (docs/theory.md §6, Figure 7).

Per (model, replicate, layer, input), on a seeded subset of the test split, after that layer's
probes: the metrics of this stage (the sliced Wasserstein distance to the probes' sigma*, CKA
between every pair of sigmas) on the features at every sigma.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass

import numpy as np

from .. import metrics
from ..spec.kinds import replicates
from .base import Cell, Stage, Task, base, computed, key, labelled, model_at, model_sel

STAGE = Stage.ANALYSIS
CHUNKS = {"model": 1, "replicate": 1, "layer": 1, "input": 1}
# What an analysis task hands its metrics: one layer and input of a model replicate, its
# features at every sigma on the analysis subset (`X`, a list of (n, C); `rows`, that subset's
# sample indices), and the store (the probes' validation choices; the other models' features).
# Its fields: spec, dataset, params, io, X, rows (a `base.Cell`).


@dataclass(frozen=True)
class Params:
    model: str
    replicate: int
    layer: str
    input: str


def plan(spec, upstream) -> list[Task]:
    """One task per (dataset, model, replicate, layer, input), after that replicate's features (of
    every model, where a metric compares models) and the probes of that layer and input (they
    choose the reference sigma)."""
    asked = sorted(m.name for m in metrics.at(spec, STAGE))
    if not asked:
        return []
    across = spec.multi_model and any("models" in m.reads for m in metrics.at(spec, STAGE))
    what = (asked, spec.analysis.model_dump())
    out = []
    for ds in spec.datasets:
        for name, cfg in spec.model_items():
            for r in range(replicates(cfg)):
                feats = upstream.of(Stage.FEATURES, ds.name, model=name, replicate=r)
                if across:  # the other models' features, for a metric that compares them
                    feats = feats + [
                        t
                        for other, _ in spec.model_items()
                        if other != name
                        for t in upstream.of(Stage.FEATURES, ds.name, model=other, replicate=r)
                    ]
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
    spec, data, cfg, p = ctx.spec, ctx.data.get(task.dataset), ctx.spec.analysis, task.params
    feats = io.features(task.dataset, p.layer)
    where = {"input": p.input, "replicate": p.replicate, **model_at(spec, p.model)}
    feats = feats.sel(where)  # (S, N, C)
    test = np.flatnonzero(data.split == "test")
    rows = test[_subset(len(test), cfg.max_samples, cfg.seed)]
    S = len(spec.sigmas)
    X = [feats.isel(sigma=s, sample=rows).values.astype(np.float64) for s in range(S)]  # (n, C)
    cell = Cell(spec=spec, dataset=task.dataset, params=p, io=io, X=X, rows=rows)
    values = computed(spec, STAGE, cell)
    coords = {
        "layer": [p.layer],
        "input": [p.input],
        "sigma": spec.sigmas,
        "sigma_ref": spec.sigmas,
        **model_sel(spec, p.model, p.replicate),
    }
    if spec.multi_model:
        coords["model_ref"] = [n for n, _ in spec.model_items()]
    io.write(task.dataset, labelled(spec, STAGE, values, **coords))


def _subset(n: int, max_samples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 0x414E])  # "AN": the analysis subset stream
    return np.sort(rng.permutation(n)[:max_samples])
