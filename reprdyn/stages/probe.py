"""Stage `probe`: one classification probe on one layer and input, over the whole sigma x (label
noise x seed) grid at once, with its selection on validation, test accuracy, ensemble and paired
bootstrap (the protocol is `reprdyn.probes.protocol`)."""

from __future__ import annotations

from dataclasses import astuple, dataclass

import numpy as np

from .. import metrics
from ..spec.kinds import PIXELS, replicates
from .base import (
    BOUNDS,
    Cell,
    Stage,
    Task,
    base,
    computed,
    key,
    labelled,
    metric_variables,
    model_at,
    model_dims,
    model_sel,
)

STAGE = Stage.PROBE
CHUNKS = {"model": 1, "replicate": 1, "layer": 1, "probe": 1, "input": 1}


# What a probe task hands its metrics: one (layer, input, probe) cell over the sigma x (label
# noise x seed) grid — validation hits (S, T, n_val), test logits (S, T, m, K), test labels.
# Its fields: spec, dataset, val_correct, logits, y_test, K (a `base.Cell`).


@dataclass(frozen=True)
class Params:
    model: str
    replicate: int | str  # "all": the raw-input baseline, the same for every replicate
    layer: str
    input: str
    probe: str


def plan(spec, upstream) -> list[Task]:
    """One task per (model, replicate, layer, input, classification probe); the raw-input
    baseline `pixels` needs no features and serves every replicate of a model at once."""
    asked = [m.name for m in metrics.at(spec, STAGE)]
    if not asked:
        return []
    protocol = (
        spec.sigmas,
        spec.label_noise,
        spec.label_noise_kind,
        spec.seeds,
        spec.val_fraction,
        spec.ensemble.model_dump(),
        asked,
        spec.analysis.tolerance,
        spec.analysis.flat,
        spec.analysis.bootstrap,
        spec.analysis.confidence,
        spec.analysis.seed,
    )
    out = []
    for ds in spec.datasets:
        (data,) = upstream.of(Stage.DATA, ds.name)
        for name, cfg in spec.model_items():
            for probe in spec.probes:
                if probe.dense or probe.joint:
                    continue  # the segment and joint stages fit those
                for layer in spec.probe_layers(probe):
                    for r in range(replicates(cfg)) if layer != PIXELS else ["all"]:
                        mine = upstream.of(Stage.FEATURES, ds.name, model=name, replicate=r)
                        deps = tuple(f.key for f in mine) if layer != PIXELS else (data.key,)
                        for inp in spec.inputs:
                            p = Params(name, r, layer, inp, probe.label)
                            pairs = tuple(
                                zip(("model", "replicate", "layer", "input", "probe"), astuple(p))
                            )
                            k = key(
                                "probe",
                                *base(spec, ds),
                                pairs,
                                probe.model_dump(mode="json"),
                                protocol,
                                deps,
                            )
                            out.append(Task(STAGE, ds.name, p, k, deps))
    return out


def run(task: Task, ctx, io) -> None:
    from ..probes import make_probe
    from ..probes.protocol import broadcast, noisy_labels, pixel_stack, val_split
    from ..seeds import derive_seed

    spec, data, p = ctx.spec, ctx.data.get(task.dataset), task.params
    cfg = next(q for q in spec.probes if q.label == p.probe)
    if cfg.tokens:
        X = _tokens(ctx, task.dataset, p)  # (S, N, h * w, C)
    elif p.layer == PIXELS:
        X = pixel_stack(
            spec, task.dataset, p.model, ctx.models.inputs(p.model, task.dataset), p.input
        )
    else:
        where = {"input": p.input, "replicate": p.replicate}
        X = io.features(task.dataset, p.layer).sel({**where, **model_at(spec, p.model)}).values
    train, test = np.flatnonzero(data.split == "train"), np.flatnonzero(data.split == "test")
    fit, hold = val_split(spec, task.dataset, data.y[train])
    Y = noisy_labels(spec, task.dataset, data.y[train], data.n_classes)  # (T, n_train)
    probe_seed = derive_seed(spec.seed, task.dataset, p.model, p.layer, p.input, p.probe)
    probe = make_probe(cfg, data.n_classes, ctx.device, probe_seed)
    # every (sigma, label noise, seed) fit draws from its own coordinates, never from its place
    # in the grid; the clean pixel baseline is one fit that serves every sigma
    one = p.layer == PIXELS and p.input != "noisy"
    at = ["pixels"] if one else [repr(float(s)) for s in spec.sigmas]
    cells = [
        [
            derive_seed(probe_seed, s, repr(float(q)), r)
            for q in spec.label_noise
            for r in spec.seeds
        ]
        for s in at
    ]
    probe.fit(X[:, train[fit]], Y[:, fit], X_val=X[:, train[hold]], Y_val=Y[:, hold], seeds=cells)
    S = len(spec.sigmas)
    val_pred = broadcast(probe.predict(X[:, train[hold]]).cpu().numpy(), S)  # (S, T, n_val)
    logits = broadcast(probe.decision_function(X[:, test]).cpu().numpy(), S)  # (S, T, m, K)
    hits = val_pred == Y[None, :, hold]
    cell = Cell(
        spec=spec,
        dataset=task.dataset,
        val_correct=hits,
        logits=logits,
        y_test=data.y[test],
        K=data.n_classes,
    )
    values = computed(spec, STAGE, cell)
    reps = (
        list(range(replicates(ctx.models.cfg(p.model)))) if p.replicate == "all" else [p.replicate]
    )
    io.write(task.dataset, _region(spec, p, values, reps))


def _tokens(ctx, dataset: str, p: Params) -> np.ndarray:
    """The layer's map at every sigma, read as tokens: (S, N, h * w, C) float32, from the same
    extraction loop and noise as the pooled features (whose mean over tokens they are)."""
    from ..compute.dense import iter_maps
    from ..compute.extract import Pass, input_noise

    spec = ctx.spec
    x0 = ctx.models.inputs(p.model, dataset)
    out = None
    for s, sigma in enumerate(spec.sigmas):
        net = ctx.models.denoiser(p.model, dataset, s, p.replicate)
        noise = input_noise(spec, dataset, p.model, sigma, x0.shape[1:], p.input)
        how = Pass(sigma, noise, spec.noise_draws, device=ctx.device)
        for idx, maps in iter_maps(net, x0, np.arange(len(x0)), [p.layer], how):
            m = maps[p.layer]  # (B, C, h, w)
            tokens = m.flatten(2).transpose(1, 2).float().cpu().numpy()  # (B, h * w, C)
            if out is None:
                out = np.empty((len(spec.sigmas), len(x0), *tokens.shape[1:]), np.float32)
            out[s, idx] = tokens
    return out


def _region(spec, p: Params, values: dict, reps: list) -> object:
    """The task's region of the cube: every variable over its dims, the target axis T split into
    (label_noise, seed), `reps` replicates holding the same values."""

    region = {name: _on_grid(spec, x, name, len(reps)) for name, x in values.items()}
    coords = {
        "layer": [p.layer],
        "probe": [p.probe],
        "input": [p.input],
        "sigma": spec.sigmas,
        "label_noise": spec.label_noise,
        "seed": spec.seeds,
        **model_sel(spec, p.model, reps),
    }
    if spec.bootstrap:
        coords["bound"], coords["boot"] = list(BOUNDS), np.arange(spec.bootstrap)
    return labelled(spec, STAGE, region, **coords)


def _on_grid(spec, x: np.ndarray, name: str, reps: int = 1) -> np.ndarray:
    """An array over the flat target axis T = label_noise x seed, as its variable's dims in one
    probe task's region: singleton model / layer / probe / input, `reps` replicates (the same
    values in each), T split into (label_noise, seed)."""

    # (sigma?, layer, label_noise, seed, probe, input, member? / class? / bound? / boot?)
    dims = metric_variables(STAGE)[name].dims
    before = 1 if dims[0] == "sigma" else 0
    P, R = len(spec.label_noise), len(spec.seeds)
    x = x.reshape(*x.shape[:before], P, R, *x.shape[before + 1 :])  # (sigma?, P, R, rest?)
    x = np.expand_dims(x, before)  # the layer
    x = np.expand_dims(x, (before + 3, before + 4))  # the probe and the input
    lead = len(model_dims(spec))
    x = x.reshape((1,) * lead + x.shape)  # (model?, replicate, ...)
    return np.repeat(x, reps, axis=lead - 1) if reps > 1 else x


def estimate(ctx, dataset: str) -> dict:
    """This stage's part of the preflight: one probe task's working set on the widest layer it
    reads (the raw-input baseline: the flattened input; an attentive probe: the layer's tokens at
    every sigma)."""
    from ..probes.base import probe_bytes

    spec, data = ctx.spec, ctx.data.get(dataset)
    probed = list(ctx.models.channels(dataset).values())
    if PIXELS in spec.layers:  # the raw-input baseline: the flattened input, made in the probe task
        probed += [
            int(np.prod(ctx.models.inputs(m, dataset).shape[1:])) for m, _ in spec.model_items()
        ]
    n, n_train = len(data.y), int((data.split == "train").sum())
    gram = any(p.gram for p in spec.probes if not p.joint)
    C = max(probed, default=1)
    out = probe_bytes(len(spec.sigmas), n, n_train, C, gram)
    shapes = ctx.models.layer_shapes(dataset)
    for q in spec.probes:  # a layer's tokens at every sigma, read and standardised (float32)
        for layer in spec.probe_layers(q) if q.tokens else ():
            size = max(int(np.prod(s[layer])) for s in shapes.values() if layer in s)
            out = max(out, 3 * len(spec.sigmas) * n * size * 4)
    return {"probe_bytes": out}
