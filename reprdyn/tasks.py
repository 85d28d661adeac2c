"""Tasks: the function that computes each planned stage and writes its region of the store.

Executors call `run_task(task, ctx)`; a `Context` caches datasets and models
once per process (per worker, on a cluster).
"""
from __future__ import annotations

import logging
import warnings
import zlib
from typing import Callable

import numpy as np
import torch
import xarray as xr
import zarr
from sklearn.model_selection import train_test_split

from . import store as st
from .data import Data, build_dataset
from .errors import InputError
from .extract import OUTPUT, iter_features, layer_shapes
from .metrics import ClassMoments, csnr_from_moments, csnr_theory, svd_bases
from .models import PRETRAINED, dae_sigmas, load_pretrained, molrg_optimal, untrained
from .plan import Task
from .probes import accuracy, corrupt_labels, make_probe, select, soft_vote
from .spec import Spec
from .train import ensure_trained

log = logging.getLogger("reprdyn")
MOMENT_BUDGET = 2 << 30  # bytes of per-class second moments before CSNR of a layer is skipped


def pick_device(name: str) -> str:
    if name != "auto":
        return name
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def derive_seed(*parts) -> int:
    """A 32-bit seed from ints and strings, stable across processes and platforms."""
    words = [p if isinstance(p, int) and p >= 0 else zlib.crc32(repr(p).encode()) for p in parts]
    return int(np.random.SeedSequence(words).generate_state(1)[0])


class Context:
    """What tasks share within one process: the spec, the store path, built data and models."""

    def __init__(self, spec: Spec, path: str, progress: Callable[[str, int, int, float], None] | None = None):
        self.spec, self.path, self.progress = spec, str(path), progress
        self.device = pick_device(spec.compute.device)
        self._data: dict[str, Data] = {}
        self._nets: dict[tuple, torch.nn.Module] = {}
        self._latents: dict[tuple, np.ndarray] = {}
        self.checkpoints: dict[tuple, tuple[str, bool]] = {}  # (model, variant) -> (path, trained now)

    def model_cfg(self, name: str):
        return dict(self.spec.model_items())[name]

    def data(self, dataset: str) -> Data:
        if dataset not in self._data:
            cfg = next(d for d in self.spec.datasets if d.name == dataset)
            self._data[dataset] = build_dataset(cfg, self.spec.seed)
        return self._data[dataset]

    def train_data(self, cfg) -> Data:
        src = cfg.train.data
        data = self.data(src) if isinstance(src, str) else build_dataset(src, self.spec.seed)
        return data.train()

    def denoiser(self, model: str, dataset: str, sigma_index: int, label: str = "") -> torch.nn.Module:
        """The (trained) denoiser that serves `dataset` at grid point `sigma_index`."""
        cfg = self.model_cfg(model)
        if cfg.kind == "molrg-optimal":
            key = (model, dataset)
            if key not in self._nets:
                self._nets[key] = molrg_optimal(self.data(dataset)).to(self.device)
            return self._nets[key]
        if cfg.kind in PRETRAINED:
            return self.pretrained(model)
        levels = dae_sigmas(cfg, self.spec.sigmas)
        variant = sigma_index if levels is not None and len(levels) > 1 else 0
        key = (model, variant)
        if key not in self._nets:
            seed = cfg.train.seed if cfg.train.seed is not None else self.spec.seed
            report = (lambda i, n, loss: self.progress(label, i, n, loss)) if self.progress and label else None
            net, path, trained = ensure_trained(cfg, self.train_data(cfg), levels[variant] if levels else None,
                                                seed, self.spec.compute.cache, self.device, report)
            self._nets[key], self.checkpoints[key] = net, (str(path), trained)
        return self._nets[key]

    def pretrained(self, model: str) -> torch.nn.Module:
        """A pretrained model, loaded once per process; its sigma range is checked against the grid."""
        key = (model, "pretrained")
        if key not in self._nets:
            cfg = self.model_cfg(model)
            if cfg.kind == "python" and not self.spec.trust_code:
                raise ValueError("a `python` model needs `trust_code: true` in the spec")
            net = load_pretrained(cfg).to(self.device)
            if hasattr(net, "check_sigmas"):
                net.check_sigmas(self.spec.sigmas)
            self._nets[key] = net
        return self._nets[key]

    def inputs(self, model: str, dataset: str) -> np.ndarray:
        """What the model denoises: the dataset's samples, or their latents for a latent model (cached)."""
        data = self.data(dataset)
        net = self.denoiser(model, dataset, 0) if self.model_cfg(model).kind in PRETRAINED else None
        if net is None or getattr(net, "autoencoder", None) is None:
            return data.x
        key = (model, dataset)
        if key not in self._latents:
            dtype = next(net.autoencoder.parameters()).dtype
            parts = [net.encode(torch.as_tensor(data.x[i:i + self.spec.compute.batch_size], dtype=dtype,
                                                device=self.device)).float().cpu().numpy()
                     for i in range(0, len(data.x), self.spec.compute.batch_size)]
            self._latents[key] = np.concatenate(parts)  # (N, c, h, w)
        return self._latents[key]

    def layer_shapes(self, dataset: str) -> dict[str, dict[str, tuple[int, ...]]]:
        """Per model: every hookable layer's per-sample output shape, on two samples (untrained networks
        for models reprdyn trains, the loaded ones for pretrained models)."""
        data, out = self.data(dataset), {}
        for name, cfg in self.spec.model_items():
            if cfg.kind in PRETRAINED:
                net = self.pretrained(name)
                x = torch.as_tensor(self.inputs(name, dataset)[:2], dtype=next(net.parameters()).dtype,
                                    device=self.device)
            else:
                net = untrained(cfg, data)
                x = torch.as_tensor(data.x[:2], dtype=torch.float32)  # the analytic posterior casts to its own dtype
            out[name] = layer_shapes(net, x, self.spec.sigmas[0])
        return out

    def channels(self, dataset: str) -> dict[str, int]:
        """Pooled width of every requested layer; every model must agree (they share the cube)."""
        widths = None
        for (name, cfg), shapes in zip(self.spec.model_items(), self.layer_shapes(dataset).values()):
            missing = [x for x in self.spec.layers if x not in shapes]
            if missing:
                raise InputError(f"unknown layer {missing[0]!r} for model {name or cfg.kind!r}; "
                                 f"valid layers: {', '.join(shapes)}")
            w = {x: int(np.prod(shapes[x])) if x == OUTPUT else shapes[x][0] for x in self.spec.layers}
            if widths is not None and w != widths:
                raise InputError(f"models disagree on layer widths ({widths} vs {w}); models compared in one "
                                 "spec must share the probed layers' widths")
            widths = w
        return widths


# --- dims shared by the cube --------------------------------------------------

def lead(spec: Spec) -> tuple[str, ...]:
    """('model',) when the spec compares several models, else ()."""
    return ("model",) if spec.multi_model else ()


def model_sel(spec: Spec, model: str) -> dict:
    return {"model": [model]} if spec.multi_model else {}


def _grid_coords(spec: Spec) -> dict:
    c = {"sigma": spec.sigmas}
    if spec.timestep_coord is not None:
        c["timestep"] = ("sigma", spec.timestep_coord)
    if spec.multi_model:
        c["model"] = np.array([n for n, _ in spec.model_items()], dtype=object)
    return c


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
                         coords={**_grid_coords(spec), "input": np.array(spec.inputs, dtype=object), **coords})
        chunks = {"features": {"model": 1, "sigma": 1, "input": 1,
                               "sample": st.sample_chunk(len(sample), channels, spec.compute.batch_size)}}
        st.allocate(ctx.path, st.group(task.dataset, "features", layer), tpl, chunks)


PROBE_VARS = ("accuracy", "val_accuracy", "class_accuracy", "best_sigma", "best_accuracy", "ensemble_accuracy",
              "ensemble_members")


def metric_chunks(spec: Spec) -> dict[str, dict[str, int]]:
    """Chunks aligned with tasks: probe tasks own (model, layer, probe, input); feature tasks own sigma."""
    probe = {"model": 1, "layer": 1, "probe": 1, "input": 1}
    return {**{v: probe for v in PROBE_VARS}, "csnr": {"model": 1, "sigma": 1}, "csnr_overall": {"model": 1, "sigma": 1}}


def metric_template(spec: Spec, data: Data) -> xr.Dataset:
    """NaN-filled metric cube with every dim kept, even single-valued ones."""
    c = {
        **_grid_coords(spec), "layer": np.array(spec.layers, dtype=object),
        "label_noise": spec.label_noise, "seed": spec.seeds,
        "probe": np.array([p.label for p in spec.probes], dtype=object),
        "input": np.array(spec.inputs, dtype=object), "class": np.array(data.classes, dtype=object),
        "member": np.arange(spec.ensemble.size(len(spec.sigmas))),
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
    used = {d for dims, _ in v.values() for d in dims}
    ds = xr.Dataset(v, coords={k: c[k] for k in c if k in used or (k == "timestep" and "sigma" in used)})
    for name, text in DESCRIPTIONS.items():
        if name in ds:
            ds[name].attrs["description"] = text
    ds.attrs["csnr"] = spec.csnr.model_dump_json()
    return ds


DESCRIPTIONS = {
    "accuracy": "test accuracy of the probe trained at each sigma",
    "val_accuracy": "accuracy on the validation split carved from train (used for selection)",
    "class_accuracy": "per-class test accuracy",
    "best_sigma": "sigma with the highest validation accuracy",
    "best_accuracy": "test accuracy of the single probe at best_sigma (the ensemble's baseline)",
    "ensemble_accuracy": "test accuracy of soft voting over the ensemble members (see the spec's ensemble)",
    "ensemble_members": "sigmas in the ensemble (NaN-padded)",
    "csnr": "empirical CSNR per class (THEORY.md §4) on the train split; bases per the `csnr` attr",
    "csnr_overall": "empirical CSNR over all classes (ratio of means)",
    "csnr_theory": "closed-form CSNR of the optimal posterior (THEORY.md §5)",
}


# --- features: one forward pass per (batch, sigma) for all layers ------------

def _bases(ctx: Context, data: Data, layer: str, M: np.ndarray):
    """Class bases for CSNR: MoLRG's true U_k for `output`, else per-class SVD (THEORY.md §4)."""
    cfg = ctx.spec.csnr
    U = data.extras.get("U", (None, None))[1]
    true_ok = U is not None and M.shape[1] == U.shape[1]
    if cfg.basis == "truth" or (cfg.basis == "auto" and layer == OUTPUT and true_ok):
        if not true_ok:
            raise ValueError(f"csnr.basis 'truth' needs the data-space output of a molrg dataset, not layer {layer!r}")
        return list(U)
    return svd_bases(M, cfg.rank, cfg.energy)


def _stream(ctx: Context, net, data: Data, x0: np.ndarray, sigma: float, inp: str, rng, batch: int,
            writers: dict[str, st.RowWriter]) -> dict[str, ClassMoments]:
    """Extract every layer batch by batch into the store; return per-class moments for CSNR.

    `x0` is what the model denoises: the samples, or their latents.
    """
    spec, train, K = ctx.spec, data.split == "train", data.n_classes
    moments: dict[str, ClassMoments] = {}
    for start, stop, feats in iter_features(net, x0, sigma, spec.layers, noisy=inp == "noisy", rng=rng,
                                            draws=spec.noise_draws, batch_size=batch, device=ctx.device):
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
        batch = spec.compute.batch_size
        while True:
            rng = np.random.default_rng(derive_seed(spec.seed, task.dataset, "noise", model, i))
            writers = {layer: st.RowWriter(a, (*mi, i, j), chunk[layer]) for layer, a in arrays.items()}
            try:
                moments = _stream(ctx, net, data, x0, sigma, inp, rng, batch, writers)
                break
            except torch.OutOfMemoryError:
                if batch == 1:
                    raise
                batch //= 2  # the noise stream does not depend on the batch, so results do not change
                log.warning("%s: out of memory on %s; retrying with batch size %d", task.label, ctx.device, batch)
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
    probe = make_probe(cfg, K, ctx.device, derive_seed(spec.seed, task.dataset, model, layer, inp, label))
    probe.fit(F[:, train[fit]], Y[:, fit], X_val=F[:, train[hold]], Y_val=Y[:, hold])
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
    coords = {"layer": [layer], "probe": [label], "input": [inp], "sigma": spec.sigmas,
              "label_noise": spec.label_noise, "seed": spec.seeds, **model_sel(spec, model)}
    st.write_region(ctx.path, st.group(task.dataset, "metrics"), xr.Dataset(v, coords=coords))


STAGE_FUNCTIONS = {"train": _train_task, "data": _data_task, "features": _features_task,
                   "theory": _theory_task, "probe": _probe_task}


def run_task(task: Task, ctx: Context) -> None:
    try:
        fn = STAGE_FUNCTIONS[task.stage]
    except KeyError:
        raise ValueError(f"unknown task stage {task.stage!r}; expected one of {sorted(STAGE_FUNCTIONS)}") from None
    fn(task, ctx)
