"""Stage `joint`: one joint probe (`aggregate`, `concat`: a kind whose block says `joint`) on every
(layer, sigma) cell it reads at once, for one model replicate and input, every (label noise x seed)
label set fitted by itself, scored on the test split with the probes' paired bootstrap (the
protocol is `reprdyn.probes.protocol`; the estimators `reprdyn.probes.joint`)."""

from __future__ import annotations

from dataclasses import astuple, dataclass

import numpy as np

from .. import metrics
from ..spec.kinds import replicates
from .base import BOUNDS, Cell, Stage, Task, base, computed, key, labelled, model_at, model_sel

STAGE = Stage.JOINT
CHUNKS = {"model": 1, "replicate": 1, "probe": 1, "input": 1}
# What a joint task hands its metrics: validation hits (T, n_val), test logits (T, m, K), test
# labels, the layers read and the estimator (its `mixing_` when it learns one).
# Its fields: spec, dataset, val_correct, logits, y_test, K, layers, probe (a `base.Cell`).


@dataclass(frozen=True)
class Params:
    model: str
    replicate: int
    input: str
    probe: str


def plan(spec, upstream) -> list[Task]:
    """One task per (dataset, model, replicate, input, joint probe), after that replicate's
    features."""
    asked = [m.name for m in metrics.at(spec, STAGE)]
    joint = [p for p in spec.probes if p.joint]
    if not asked or not joint:
        return []
    protocol = (
        spec.sigmas,
        spec.label_noise,
        spec.label_noise_kind,
        spec.seeds,
        spec.val_fraction,
        asked,
        spec.analysis.bootstrap,
        spec.analysis.confidence,
        spec.analysis.seed,
    )
    out = []
    for ds in spec.datasets:
        for name, cfg in spec.model_items():
            for r in range(replicates(cfg)):
                deps = tuple(
                    f.key for f in upstream.of(Stage.FEATURES, ds.name, model=name, replicate=r)
                )
                for probe in joint:
                    for inp in spec.inputs:
                        p = Params(name, r, inp, probe.label)
                        pairs = tuple(zip(("model", "replicate", "input", "probe"), astuple(p)))
                        layers = spec.probe_layers(probe)
                        what = (probe.model_dump(mode="json"), layers, protocol)
                        k = key("joint", *base(spec, ds), pairs, what, deps)
                        out.append(Task(STAGE, ds.name, p, k, deps))
    return out


def run(task: Task, ctx, io) -> None:
    from ..probes.protocol import noisy_labels, val_split
    from ..seeds import derive_seed

    spec, data, p = ctx.spec, ctx.data.get(task.dataset), task.params
    cfg = next(q for q in spec.probes if q.label == p.probe)
    layers = spec.probe_layers(cfg)
    where = {"input": p.input, "replicate": p.replicate, **model_at(spec, p.model)}
    X = [io.features(task.dataset, layer).sel(where).values for layer in layers]  # [(S, N, C_l)]
    train, test = np.flatnonzero(data.split == "train"), np.flatnonzero(data.split == "test")
    fit, hold = val_split(spec, task.dataset, data.y[train])
    Y = noisy_labels(spec, task.dataset, data.y[train], data.n_classes)  # (T, n_train)
    probe_seed = derive_seed(spec.seed, task.dataset, p.model, "joint", p.input, p.probe)
    seeds = [
        derive_seed(probe_seed, repr(float(q)), r) for q in spec.label_noise for r in spec.seeds
    ]
    rows = [train[fit], train[hold], test]
    fit_X, val_X, test_X = ([x[:, i] for x in X] for i in rows)
    est = cfg.estimator(data.n_classes, ctx.device, probe_seed)
    est.fit(fit_X, Y[:, fit], val_X, Y[:, hold], seeds)
    hits = est.predict(val_X).cpu().numpy() == Y[:, hold]  # (T, n_val)
    cell = Cell(
        spec=spec,
        dataset=task.dataset,
        val_correct=hits,
        logits=est.decision_function(test_X).cpu().numpy(),  # (T, m, K)
        y_test=data.y[test],
        K=data.n_classes,
        layers=layers,
        probe=est,
    )
    values = computed(spec, STAGE, cell)
    io.write(task.dataset, _region(spec, p, values, layers))


def _region(spec, p: Params, values: dict, layers: list[str]):
    """The task's region: each array's flat label-set axis T split into (label_noise, seed), the
    singleton probe and input dims put in place, layers as the probe read them."""
    from .base import metric_variables

    variables = metric_variables(STAGE)
    P, R = len(spec.label_noise), len(spec.seeds)
    region = {}
    every = list(spec.cube_layers)
    for name, x in values.items():
        dims = variables[name].dims  # (sigma?, layer?, label_noise, seed, probe, input, rest?)
        if "layer" in dims:  # the probe's layers placed among all the cube's (NaN elsewhere)
            at = dims.index("layer")
            full = np.full((*x.shape[:at], len(every), *x.shape[at + 1 :]), np.nan)
            index = [slice(None)] * at + [[every.index(x_) for x_ in layers]]
            full[tuple(index)] = x
            x = full
        lead = dims.index("label_noise")
        x = x.reshape(*x.shape[:lead], P, R, *x.shape[lead + 1 :])
        region[name] = np.expand_dims(x, (lead + 2, lead + 3))
    coords = {
        "layer": every,
        "probe": [p.probe],
        "input": [p.input],
        "sigma": spec.sigmas,
        "label_noise": spec.label_noise,
        "seed": spec.seeds,
        **model_sel(spec, p.model, p.replicate),
    }
    if spec.bootstrap:
        coords["bound"], coords["boot"] = list(BOUNDS), np.arange(spec.bootstrap)
    return labelled(spec, STAGE, region, **coords)


def estimate(ctx, dataset: str) -> dict:
    """This stage's part of the preflight: a joint task's working set. Every cell it reads, in
    float64 (standardised, and for concat side by side), and concat's Gram matrix over all of
    them with its eigenvectors (D x D, D = the widths of every layer times the sigmas)."""
    spec, data = ctx.spec, ctx.data.get(dataset)
    joint = [p for p in spec.probes if p.joint]
    if not joint:
        return {}
    widths = ctx.models.channels(dataset)
    n, S = len(data.y), len(spec.sigmas)
    out = 0
    for p in joint:
        D = S * sum(widths[x] for x in spec.probe_layers(p))
        out = max(out, 2 * n * D * 8 + (2 * D * D * 8 if p.gram else 0))
    return {"probe_bytes": out}
