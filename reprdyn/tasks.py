"""Tasks: the function that computes each planned stage and writes its region of the store.

Executors call `run_task(task, ctx)`; a `Context` caches datasets and models
once per process (per worker, on a cluster).
"""
from __future__ import annotations

import logging
import warnings

import numpy as np
import torch
import xarray as xr
import zarr
from sklearn.model_selection import train_test_split

from . import store as st
from .analyses import analysis_task, generate_task, posterior_quality
from .context import Context, derive_seed, grid_coords, lead, model_sel, pick_device  # noqa: F401 - re-exported
from .data import Data
from .extract import FORWARD_ROWS, OUTPUT, NoiseStream, iter_features
from .metrics import ClassMoments, csnr_from_moments, csnr_theory, svd_bases, unimodality
from .plan import Task
from .probes import accuracy, corrupt_labels, make_probe, select, soft_vote
from .spec import Spec

log = logging.getLogger("reprdyn")
MOMENT_BUDGET = 2 << 30  # bytes of per-class second moments before CSNR of a layer is skipped


# --- train: make sure a checkpoint exists --------------------------------------

def _train_task(task: Task, ctx: Context) -> None:
    variant = task.param("variant", 0)
    ctx.denoiser(task.param("model"), task.dataset, variant, label=task.label)


# --- data: store the samples' labels and allocate every array ----------------

def _data_task(task: Task, ctx: Context) -> None:
    spec, data = ctx.spec, ctx.data(task.dataset)
    sample = np.arange(len(data.y))
    coords = {"sample": sample, "label": ("sample", data.y), "split": ("sample", data.split)}
    ds = xr.Dataset(dict(data.extras), coords={**coords, "class": np.array(data.classes, dtype=object)},
                    attrs=data.meta)
    ds.to_zarr(ctx.path, group=st.group(task.dataset, "data"), mode="w", consolidated=False)
    st.allocate(ctx.path, st.group(task.dataset, "metrics"), metric_template(spec, data), metric_chunks(spec))
    L = lead(spec)
    for layer, channels in ctx.channels(task.dataset).items():
        dims = (*L, "sigma", "input", "sample", "channel")
        shape = (len(spec.model_items()),) * len(L) + (len(spec.sigmas), len(spec.inputs), len(sample), channels)
        tpl = xr.Dataset({"features": (dims, np.full(shape, np.nan, np.float32))},
                         coords={**grid_coords(spec), "input": np.array(spec.inputs, dtype=object), **coords})
        chunks = {"features": {"model": 1, "sigma": 1, "input": 1,
                               "sample": st.sample_chunk(len(sample), channels, FORWARD_ROWS)}}
        st.allocate(ctx.path, st.group(task.dataset, "features", layer), tpl, chunks)


PROBE_VARS = ("accuracy", "val_accuracy", "class_accuracy", "best_sigma", "best_accuracy", "ensemble_accuracy",
              "ensemble_members", "peak_sigma", "rise", "fall", "unimodal")
SIGMA_VARS = ("csnr", "csnr_overall", "posterior_mse", "posterior_psnr")
ANALYSIS_VARS = ("sw_distance", "sw_reference", "cka")


def metric_chunks(spec: Spec) -> dict[str, dict[str, int]]:
    """Chunks aligned with tasks: probe tasks own (model, layer, probe, input); feature tasks own (model, sigma);
    analysis tasks own (model, layer, input); generate tasks own (model)."""
    probe = {"model": 1, "layer": 1, "probe": 1, "input": 1}
    return {**{v: probe for v in PROBE_VARS}, **{v: {"model": 1, "sigma": 1} for v in SIGMA_VARS},
            **{v: {"model": 1, "layer": 1, "input": 1} for v in ANALYSIS_VARS}, "generalization": {"model": 1}}


def metric_template(spec: Spec, data: Data) -> xr.Dataset:
    """NaN-filled metric cube with every dim kept, even single-valued ones."""
    c = {
        **grid_coords(spec), "layer": np.array(spec.layers, dtype=object),
        "label_noise": spec.label_noise, "seed": spec.seeds,
        "probe": np.array([p.label for p in spec.probes], dtype=object),
        "input": np.array(spec.inputs, dtype=object), "class": np.array(data.classes, dtype=object),
        "member": np.arange(spec.ensemble.size(len(spec.sigmas))), "sigma_ref": spec.sigmas,
    }
    size = {k: len(v) if not isinstance(v, tuple) else None for k, v in c.items()}
    L = lead(spec)

    def nan(*dims):
        dims = (*L, *dims)
        return dims, np.full([size[d] for d in dims], np.nan)

    probe_dims = ("layer", "label_noise", "seed", "probe", "input")
    want = set(spec.metrics)
    v = {}
    if want & {"accuracy", "class_accuracy"}:
        v["accuracy"] = nan("sigma", *probe_dims)
        v["val_accuracy"] = nan("sigma", *probe_dims)
        v["best_sigma"] = nan(*probe_dims)
        v["best_accuracy"] = nan(*probe_dims)
        v["ensemble_accuracy"] = nan(*probe_dims)
        v["ensemble_members"] = nan(*probe_dims, "member")
    if "class_accuracy" in want:
        v["class_accuracy"] = nan("sigma", *probe_dims, "class")
    if "csnr" in want:
        v["csnr"] = nan("sigma", "layer", "input", "class")
        v["csnr_overall"] = nan("sigma", "layer", "input")
    if "csnr_theory" in want:
        v["csnr_theory"] = ("sigma",), np.full(len(spec.sigmas), np.nan)
    if "unimodality" in want:
        for name in ("peak_sigma", "rise", "fall", "unimodal"):
            v[name] = nan(*probe_dims)
    if "posterior_mse" in want:
        v["posterior_mse"] = nan("sigma")
        v["posterior_psnr"] = nan("sigma")
    if "sw_distance" in want:
        v["sw_distance"] = nan("sigma", "layer", "input")
        v["sw_reference"] = nan("layer", "input")
    if "cka" in want:
        v["cka"] = nan("layer", "input", "sigma", "sigma_ref")
    if "generalization" in want:
        v["generalization"] = nan()
    used = {d for dims, _ in v.values() for d in dims}
    ds = xr.Dataset(v, coords={k: c[k] for k in c if k in used or (k == "timestep" and "sigma" in used)})
    for name, text in DESCRIPTIONS.items():
        if name in ds:
            ds[name].attrs["description"] = text
    ds.attrs["csnr"] = spec.csnr.model_dump_json()
    if "unimodal" in ds:
        ds["unimodal"].attrs["tolerance"] = spec.analysis.tolerance
    if "generalization" in ds:
        ds["generalization"].attrs["threshold"] = spec.generation.threshold
    return ds


DESCRIPTIONS = {
    "accuracy": "test accuracy of the probe trained at each sigma",
    "val_accuracy": "accuracy on the validation split carved from train (used for selection)",
    "class_accuracy": "per-class test accuracy",
    "best_sigma": "sigma with the highest validation accuracy",
    "best_accuracy": "test accuracy of the single probe at best_sigma (the ensemble's baseline)",
    "ensemble_accuracy": "test accuracy of soft voting over the ensemble members (see the spec's ensemble)",
    "ensemble_members": "sigmas in the ensemble (NaN-padded)",
    "peak_sigma": "sigma of the accuracy curve's peak",
    "rise": "accuracy at the peak minus at the lowest sigma",
    "fall": "accuracy at the peak minus at the highest sigma",
    "unimodal": "1 when the curve rises to an interior peak and falls, within the tolerance attribute, else 0",
    "posterior_mse": "mean squared error per element of `output` on x0 + sigma eps against the clean x0 (test split)",
    "posterior_psnr": "10 log10(range^2 / posterior_mse), range = max - min of the clean test samples",
    "sw_distance": "sliced Wasserstein distance between the features at sigma and at sw_reference (test subset)",
    "sw_reference": "the best sigma on validation of the first probe reading the layer (lowest label noise)",
    "cka": "linear CKA between the features at sigma and at sigma_ref (test subset)",
    "generalization": "share of generated samples that are not near-copies of a training sample (d1/d2 >= threshold)",
    "csnr": "empirical CSNR per class (docs/theory.md §4) on the train split; bases per the `csnr` attr",
    "csnr_overall": "empirical CSNR over all classes (ratio of means)",
    "csnr_theory": "closed-form CSNR of the optimal posterior (docs/theory.md §5)",
}


# --- features: one forward pass per (batch, sigma) for all layers ------------

def _bases(ctx: Context, data: Data, layer: str, M: np.ndarray):
    """Class bases for CSNR: MoLRG's true U_k for `output`, else per-class SVD (docs/theory.md §4)."""
    cfg = ctx.spec.csnr
    U = data.extras.get("U", (None, None))[1]
    true_ok = U is not None and M.shape[1] == U.shape[1]
    if cfg.basis == "truth" or (cfg.basis == "auto" and layer == OUTPUT and true_ok):
        if not true_ok:
            raise ValueError(f"csnr.basis 'truth' needs the data-space output of a molrg dataset, not layer {layer!r}")
        return list(U)
    return svd_bases(M, cfg.rank, cfg.energy)


def _stream(ctx: Context, net, data: Data, x0: np.ndarray, sigma: float, noise: NoiseStream | None, rows: int,
            writers: dict[str, st.RowWriter]) -> dict[str, ClassMoments]:
    """Extract every layer block by block into the store; return per-class moments for CSNR.

    `x0` is what the model denoises: the samples, or their latents.
    """
    spec, train, K = ctx.spec, data.split == "train", data.n_classes
    moments: dict[str, ClassMoments] = {}
    for start, stop, feats in iter_features(net, x0, sigma, spec.layers, noise=noise, draws=spec.noise_draws,
                                            rows=rows, device=ctx.device):
        m = train[start:stop]
        for layer, f in feats.items():
            writers[layer].add(start, f)  # (B, C), written a whole chunk at a time
            C = f.shape[1]
            if "csnr" in spec.metrics and K * C * C * 8 <= MOMENT_BUDGET:
                moments.setdefault(layer, ClassMoments(K, C)).update(f[m], data.y[start:stop][m])
    for w in writers.values():
        w.flush()
    return moments


def _features_task(task: Task, ctx: Context) -> None:
    spec, data = ctx.spec, ctx.data(task.dataset)
    model, i, sigma = task.param("model"), task.param("sigma_index"), task.param("sigma")
    net = ctx.denoiser(model, task.dataset, i)
    x0 = ctx.inputs(model, task.dataset)
    mi = (next(k for k, (n, _) in enumerate(spec.model_items()) if n == model),) if spec.multi_model else ()
    arrays = {layer: zarr.open_array(f"{ctx.path}/{st.group(task.dataset, 'features', layer)}/features", mode="r+")
              for layer in spec.layers}
    chunk = {layer: a.chunks[-2] for layer, a in arrays.items()}
    K, nl, ni = data.n_classes, len(spec.layers), len(spec.inputs)
    csnr_k, csnr_all = np.full((nl, ni, K), np.nan), np.full((nl, ni), np.nan)
    for j, inp in enumerate(spec.inputs):
        rows = FORWARD_ROWS
        # the noise of (sample, draw) at this sigma: keyed by the sigma's value, not its place in the grid
        noise = NoiseStream(derive_seed(spec.seed, task.dataset, "noise", model, repr(float(sigma))),
                            x0.shape[1:]) if inp == "noisy" else None
        while True:
            writers = {layer: st.RowWriter(a, (*mi, i, j), chunk[layer]) for layer, a in arrays.items()}
            try:
                moments = _stream(ctx, net, data, x0, sigma, noise, rows, writers)
                break
            except torch.OutOfMemoryError:
                if rows == 1:
                    raise
                rows //= 2  # the noise of a sample stays; smaller passes can change float rounding
                log.warning("%s: out of memory on %s; retrying with %d samples per forward pass (results can "
                            "differ at float rounding from a run with %d)", task.label, ctx.device, rows,
                            FORWARD_ROWS)
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
        for li, layer in enumerate(spec.layers):
            if layer in moments:
                mom = moments[layer]
                M = mom.second_moment(spec.csnr.center)
                csnr_all[li, j], csnr_k[li, j] = csnr_from_moments(M, mom.n, _bases(ctx, data, layer, M))
            elif "csnr" in spec.metrics:
                warnings.warn(f"CSNR of layer {layer!r} skipped: per-class moments would exceed "
                              f"{MOMENT_BUDGET >> 30} GiB", stacklevel=1)
    if "csnr" in spec.metrics:
        L = lead(spec)
        part = xr.Dataset(
            {"csnr": ((*L, "sigma", "layer", "input", "class"), csnr_k[(None,) * (len(L) + 1)]),
             "csnr_overall": ((*L, "sigma", "layer", "input"), csnr_all[(None,) * (len(L) + 1)])},
            coords={"sigma": [sigma], **model_sel(spec, model)},
        )
        st.write_region(ctx.path, st.group(task.dataset, "metrics"), part)
    if "posterior_mse" in spec.metrics:
        noise = NoiseStream(derive_seed(spec.seed, task.dataset, "posterior", model, repr(float(sigma))),
                            x0.shape[1:])
        mse, psnr = posterior_quality(net, x0[data.split == "test"], sigma, noise, FORWARD_ROWS, ctx.device)
        L = lead(spec)
        part = xr.Dataset({"posterior_mse": ((*L, "sigma"), np.full((1,) * (len(L) + 1), mse)),
                           "posterior_psnr": ((*L, "sigma"), np.full((1,) * (len(L) + 1), psnr))},
                          coords={"sigma": [sigma], **model_sel(spec, model)})
        st.write_region(ctx.path, st.group(task.dataset, "metrics"), part)


def _theory_task(task: Task, ctx: Context) -> None:
    m = ctx.data(task.dataset).meta
    values = csnr_theory(ctx.spec.sigmas, int(m["K"]), int(m["d"]), float(m["delta"]))
    part = xr.Dataset({"csnr_theory": (("sigma",), values)}, coords={"sigma": ctx.spec.sigmas})
    st.write_region(ctx.path, st.group(task.dataset, "metrics"), part)


# --- probes: the whole (sigma x label-noise x seed) grid at once -------------

def val_split(spec: Spec, dataset: str, y_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fit, val) positions within the train split: fixed per spec and dataset, stratified.

    The split does not depend on the label-noise level or seed, so one
    factorisation per feature set serves all of them.
    """
    return train_test_split(np.arange(len(y_train)), test_size=spec.val_fraction,
                            random_state=derive_seed(spec.seed, dataset, "val"), stratify=y_train)


def noisy_labels(spec: Spec, dataset: str, y_train: np.ndarray, K: int) -> np.ndarray:
    """Training labels for every (label-noise level, seed): (P * R, n_train), seed varying fastest."""
    return np.stack([corrupt_labels(y_train, p, K, np.random.default_rng(derive_seed(spec.seed, dataset, "labels",
                                                                                       seed, repr(p))),
                                    spec.label_noise_kind)
                     for p in spec.label_noise for seed in spec.seeds])


def choose(val_acc: np.ndarray, ensemble) -> tuple[np.ndarray, np.ndarray]:
    """Best sigma index and ensemble members per target set, from validation accuracy (S, T) alone."""
    picks = [select(val_acc[:, t], ensemble.strategy, ensemble.k, ensemble.m) for t in range(val_acc.shape[1])]
    return np.array([b for b, _ in picks]), [m for _, m in picks]


def evaluate(test_logits: np.ndarray, y_test: np.ndarray, best: np.ndarray, members: list, K: int):
    """The only place test labels are read: per-sigma, per-class and ensemble test accuracy."""
    S, T = test_logits.shape[:2]
    acc, cls = np.empty((S, T)), np.empty((S, T, K))
    for s in range(S):
        for t in range(T):
            acc[s, t], cls[s, t] = accuracy(test_logits[s, t].argmax(-1), y_test, K)
    ens = np.array([(soft_vote(test_logits[:, t], members[t]).argmax(-1) == y_test).mean() for t in range(T)])
    return acc, cls, ens


def _probe_task(task: Task, ctx: Context) -> None:
    spec, data = ctx.spec, ctx.data(task.dataset)
    model, layer, inp, label = (task.param(k) for k in ("model", "layer", "input", "probe"))
    cfg = next(p for p in spec.probes if p.label == label)
    F = st.open_group(ctx.path, st.group(task.dataset, "features", layer))["features"]
    F = F.sel({"input": inp, **({"model": model} if spec.multi_model else {})}).values  # (S, N, C)
    train, test = np.flatnonzero(data.split == "train"), np.flatnonzero(data.split == "test")
    K, S = data.n_classes, len(spec.sigmas)
    fit, hold = val_split(spec, task.dataset, data.y[train])
    Y = noisy_labels(spec, task.dataset, data.y[train], K)  # (T, n_train); noise hits train and validation alike
    probe_seed = derive_seed(spec.seed, task.dataset, model, layer, inp, label)
    probe = make_probe(cfg, K, ctx.device, probe_seed)
    # every (sigma, label noise, seed) fit draws from its own coordinates, never from its place in the grid
    cells = [[derive_seed(probe_seed, repr(float(s)), repr(float(p)), r) for p in spec.label_noise
              for r in spec.seeds] for s in spec.sigmas]
    probe.fit(F[:, train[fit]], Y[:, fit], X_val=F[:, train[hold]], Y_val=Y[:, hold], seeds=cells)
    val_pred = probe.predict(F[:, train[hold]]).cpu().numpy()  # (S, T, n_val)
    val = (val_pred == Y[None, :, hold]).mean(-1)  # (S, T)
    best, members = choose(val, spec.ensemble)
    acc, cls, ens = evaluate(probe.decision_function(F[:, test]).cpu().numpy(), data.y[test], best, members, K)
    M = spec.ensemble.size(S)
    member_sigmas = np.full((len(members), M), np.nan)
    for t, idx in enumerate(members):
        member_sigmas[t, :len(idx)] = np.asarray(spec.sigmas)[idx]
    shape = (len(spec.label_noise), len(spec.seeds))
    L = lead(spec)

    def put(x, before, after=()):  # (..., T, ...) -> labelled dims with singleton model/layer/probe/input
        nb = len(before)
        x = x.reshape(*x.shape[:nb], *shape, *x.shape[nb + 1:])
        return (*L, *before, "layer", "label_noise", "seed", "probe", "input", *after), \
            x.reshape(*(1,) * len(L), *x.shape[:nb], 1, *shape, 1, 1, *x.shape[nb + 2:])

    v = {"accuracy": put(acc, ("sigma",)), "val_accuracy": put(val, ("sigma",)),
         "best_sigma": put(np.asarray(spec.sigmas)[best], ()), "ensemble_accuracy": put(ens, ()),
         "best_accuracy": put(acc[best, np.arange(len(best))], ()),
         "ensemble_members": put(member_sigmas, (), ("member",))}
    if "class_accuracy" in spec.metrics:
        v["class_accuracy"] = put(cls, ("sigma",), ("class",))
    if "unimodality" in spec.metrics:
        shapes = [unimodality(spec.sigmas, acc[:, t], spec.analysis.tolerance) for t in range(acc.shape[1])]
        for name in ("peak_sigma", "rise", "fall", "unimodal"):
            v[name] = put(np.array([float(getattr(u, name)) for u in shapes]), ())
    coords = {"layer": [layer], "probe": [label], "input": [inp], "sigma": spec.sigmas,
              "label_noise": spec.label_noise, "seed": spec.seeds, **model_sel(spec, model)}
    st.write_region(ctx.path, st.group(task.dataset, "metrics"), xr.Dataset(v, coords=coords))


STAGE_FUNCTIONS = {"train": _train_task, "data": _data_task, "features": _features_task,
                   "theory": _theory_task, "probe": _probe_task, "analysis": analysis_task,
                   "generate": generate_task}


def run_task(task: Task, ctx: Context) -> None:
    try:
        fn = STAGE_FUNCTIONS[task.stage]
    except KeyError:
        raise ValueError(f"unknown task stage {task.stage!r}; expected one of {sorted(STAGE_FUNCTIONS)}") from None
    fn(task, ctx)
