"""Stage `probe`: one probe on one layer and input, over the whole sigma x (label noise x seed) grid
at once.

The protocol (docs/theory.md §6): a validation split fixed per spec and dataset; label noise on
train and validation alike; sigma*, lambda and C chosen on validation accuracy only (`choose` never
sees a test label); test accuracy per sigma, at sigma* and for the soft-voting ensemble, read in
`evaluate`, the only place test labels are used.
"""

from __future__ import annotations

import numpy as np

from .. import cube, store
from ..caches import Context
from ..metrics.unimodal import unimodality
from ..plan import Task
from ..probes import accuracy, corrupt_labels, make_probe, select, soft_vote
from ..seeds import derive_seed


def run(task: Task, ctx: Context) -> None:
    spec, data = ctx.spec, ctx.data.get(task.dataset)
    model, layer, inp, label = (task.param(k) for k in ("model", "layer", "input", "probe"))
    feats = store.open_group(ctx.path, store.group(task.dataset, "features", layer))["features"]
    # (S, N, C)
    feats = feats.sel({"input": inp, **({"model": model} if spec.multi_model else {})}).values
    train, test = np.flatnonzero(data.split == "train"), np.flatnonzero(data.split == "test")
    fit, hold = val_split(spec, task.dataset, data.y[train])
    # (T, n_train): train and val alike
    Y = noisy_labels(spec, task.dataset, data.y[train], data.n_classes)
    probe_seed = derive_seed(spec.seed, task.dataset, model, layer, inp, label)
    probe = make_probe(
        next(p for p in spec.probes if p.label == label), data.n_classes, ctx.device, probe_seed
    )
    # every (sigma, label noise, seed) fit draws from its own coordinates, never from its place in
    # the grid
    cells = [
        [
            derive_seed(probe_seed, repr(float(s)), repr(float(p)), r)
            for p in spec.label_noise
            for r in spec.seeds
        ]
        for s in spec.sigmas
    ]
    probe.fit(
        feats[:, train[fit]], Y[:, fit], X_val=feats[:, train[hold]], Y_val=Y[:, hold], seeds=cells
    )
    # (S, T)
    val = (probe.predict(feats[:, train[hold]]).cpu().numpy() == Y[None, :, hold]).mean(-1)
    best, members = choose(val, spec.ensemble)
    acc, cls, ens = evaluate(
        probe.decision_function(feats[:, test]).cpu().numpy(),
        data.y[test],
        best,
        members,
        data.n_classes,
    )
    values = {
        "accuracy": acc,
        "val_accuracy": val,
        "best_sigma": np.asarray(spec.sigmas)[best],
        "best_accuracy": acc[best, np.arange(len(best))],
        "ensemble_accuracy": ens,
        "ensemble_members": _member_sigmas(spec, members),
    }
    if "class_accuracy" in spec.metrics:
        values["class_accuracy"] = cls
    if "unimodality" in spec.metrics:
        shapes = [
            unimodality(spec.sigmas, acc[:, t], spec.analysis.tolerance)
            for t in range(acc.shape[1])
        ]
        for name in ("peak_sigma", "rise", "fall", "unimodal"):
            values[name] = np.array([float(getattr(u, name)) for u in shapes])
    region = {name: _on_grid(spec, x, name) for name, x in values.items()}
    coords = {
        "layer": [layer],
        "probe": [label],
        "input": [inp],
        "sigma": spec.sigmas,
        "label_noise": spec.label_noise,
        "seed": spec.seeds,
        **cube.model_sel(spec, model),
    }
    store.write_region(
        ctx.path, store.group(task.dataset, "metrics"), cube.labelled(spec, region, **coords)
    )


def _on_grid(spec, x: np.ndarray, name: str) -> np.ndarray:
    """An array over the flat target axis T = label_noise x seed, as its variable's dims in one
    probe task's region: singleton model / layer / probe / input, T split into (label_noise,
    seed)."""
    # (sigma?, layer, label_noise, seed, probe, input, member? / class?)
    dims = cube.VARIABLES[name].dims
    before = 1 if dims[0] == "sigma" else 0
    P, R = len(spec.label_noise), len(spec.seeds)
    x = x.reshape(*x.shape[:before], P, R, *x.shape[before + 1 :])  # (sigma?, P, R, rest?)
    x = np.expand_dims(x, before)  # the layer
    x = np.expand_dims(x, (before + 3, before + 4))  # the probe and the input
    return x.reshape((1,) * len(cube.model_dims(spec)) + x.shape)


def _member_sigmas(spec, members: list[np.ndarray]) -> np.ndarray:
    """(T, member) sigmas of each ensemble, NaN-padded."""
    out = np.full((len(members), spec.ensemble.size(len(spec.sigmas))), np.nan)
    for t, idx in enumerate(members):
        out[t, : len(idx)] = np.asarray(spec.sigmas)[idx]
    return out


def val_split(spec, dataset: str, y_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fit, val) positions within the train split: fixed per spec and dataset, stratified.

    The split does not depend on the label-noise level or seed, so one factorisation per feature set
    serves all of them.
    """
    from sklearn.model_selection import train_test_split

    return train_test_split(
        np.arange(len(y_train)),
        test_size=spec.val_fraction,
        random_state=derive_seed(spec.seed, dataset, "val"),
        stratify=y_train,
    )


def noisy_labels(spec, dataset: str, y_train: np.ndarray, K: int) -> np.ndarray:
    """Training labels for every (label-noise level, seed): (P * R, n_train), seed varying
    fastest."""
    rng = {
        (p, r): np.random.default_rng(derive_seed(spec.seed, dataset, "labels", r, repr(p)))
        for p in spec.label_noise
        for r in spec.seeds
    }
    return np.stack(
        [
            corrupt_labels(y_train, p, K, rng[p, r], spec.label_noise_kind)
            for p in spec.label_noise
            for r in spec.seeds
        ]
    )


def choose(val_acc: np.ndarray, ensemble) -> tuple[np.ndarray, list[np.ndarray]]:
    """Best sigma index and ensemble members per target set, from validation accuracy (S, T)
    alone."""
    picks = [
        select(val_acc[:, t], ensemble.strategy, ensemble.k, ensemble.m)
        for t in range(val_acc.shape[1])
    ]
    return np.array([b for b, _ in picks]), [m for _, m in picks]


def evaluate(test_logits: np.ndarray, y_test: np.ndarray, best: np.ndarray, members: list, K: int):
    """The only place test labels are read: per-sigma, per-class and ensemble test accuracy."""
    S, T = test_logits.shape[:2]
    acc, cls = np.empty((S, T)), np.empty((S, T, K))
    for s in range(S):
        for t in range(T):
            acc[s, t], cls[s, t] = accuracy(test_logits[s, t].argmax(-1), y_test, K)
    ens = np.array(
        [(soft_vote(test_logits[:, t], members[t]).argmax(-1) == y_test).mean() for t in range(T)]
    )
    return acc, cls, ens
