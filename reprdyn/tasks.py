"""Tasks: the function that computes each planned stage and writes its region of the store.

Executors call `run_task(task, ctx)`; a `Context` caches each dataset and
model once per process (per worker, on a cluster).
"""
from __future__ import annotations

import zlib

import numpy as np
import torch
import xarray as xr
from sklearn.model_selection import train_test_split

from . import store as st
from .data import Data, build_dataset
from .extract import OUTPUT, extract_all
from .metrics import csnr, csnr_theory
from .models import build_model
from .plan import Task
from .probes import accuracy, corrupt_labels, ensemble_members, make_probe, soft_vote
from .spec import Spec


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

    def __init__(self, spec: Spec, path: str):
        self.spec, self.path = spec, str(path)
        self.device = pick_device(spec.compute.device)
        self._data: dict[str, Data] = {}
        self._models: dict[str, torch.nn.Module] = {}

    def config(self, dataset: str):
        return next(d for d in self.spec.datasets if d.name == dataset)

    def data(self, dataset: str) -> Data:
        if dataset not in self._data:
            self._data[dataset] = build_dataset(self.config(dataset), self.spec.seed)
        return self._data[dataset]

    def model(self, dataset: str) -> torch.nn.Module:
        if dataset not in self._models:
            self._models[dataset] = build_model(self.spec.model, self.data(dataset)).to(self.device)
        return self._models[dataset]

    def channels(self, dataset: str) -> dict[str, int]:
        """Feature width of every requested layer, from a forward pass on two samples."""
        x = self.data(dataset).x[:2]
        f = extract_all(self.model(dataset), x, self.spec.sigmas[0], self.spec.layers, noisy=False,
                        seed=0, batch_size=2, device=self.device)
        return {k: v.shape[1] for k, v in f.items()}

    def features(self, dataset: str, sigma: float, noisy: bool, index: int) -> dict[str, np.ndarray]:
        seed = derive_seed(self.spec.seed, dataset, "noise", index)
        return extract_all(self.model(dataset), self.data(dataset).x, sigma, self.spec.layers, noisy=noisy,
                           seed=seed, batch_size=self.spec.compute.batch_size, device=self.device)


# --- data: store the samples' labels and allocate every array ----------------

def _data_task(task: Task, ctx: Context) -> None:
    spec, data = ctx.spec, ctx.data(task.dataset)
    sample = np.arange(len(data.y))
    coords = {"sample": sample, "label": ("sample", data.y), "split": ("sample", data.split)}
    extras = {k: (dims, v) for k, (dims, v) in data.extras.items()}
    ds = xr.Dataset(extras, coords={**coords, "class": np.array(data.classes, dtype=object)}, attrs=data.meta)
    ds.to_zarr(ctx.path, group=st.group(task.dataset, "data"), mode="w", consolidated=False)
    shapes = ctx.channels(task.dataset)
    st.allocate(ctx.path, st.group(task.dataset, "metrics"), metric_template(spec, data), METRIC_CHUNKS)
    for layer, channels in shapes.items():
        tpl = xr.Dataset(
            {"features": (("sigma", "input", "sample", "channel"),
                          np.full((len(spec.sigmas), len(spec.inputs), len(sample), channels), np.nan, np.float32))},
            coords={"sigma": spec.sigmas, "input": np.array(spec.inputs, dtype=object), **coords},
        )
        st.allocate(ctx.path, st.group(task.dataset, "features", layer), tpl, {"features": {"sigma": 1, "input": 1}})


METRIC_CHUNKS = {
    name: {"layer": 1, "probe": 1, "input": 1} for name in
    ("accuracy", "val_accuracy", "class_accuracy", "best_sigma", "ensemble_accuracy", "ensemble_members")
} | {"csnr": {"sigma": 1}, "csnr_overall": {"sigma": 1}}


def metric_template(spec: Spec, data: Data) -> xr.Dataset:
    """NaN-filled metric cube with every dim kept, even single-valued ones."""
    c = {
        "sigma": spec.sigmas, "layer": np.array(spec.layers, dtype=object),
        "label_noise": spec.label_noise, "seed": spec.seeds,
        "probe": np.array([p.label for p in spec.probes], dtype=object),
        "input": np.array(spec.inputs, dtype=object), "class": np.array(data.classes, dtype=object),
        "member": np.arange(2 * spec.ensemble.k + 1),
    }
    size = {k: len(v) for k, v in c.items()}

    def nan(*dims):
        return dims, np.full([size[d] for d in dims], np.nan)

    probe_dims = ("layer", "label_noise", "seed", "probe", "input")
    want = set(spec.metrics)
    v = {}
    if want & {"accuracy", "class_accuracy"}:
        v["accuracy"] = nan("sigma", *probe_dims)
        v["val_accuracy"] = nan("sigma", *probe_dims)
        v["best_sigma"] = nan(*probe_dims)
        v["ensemble_accuracy"] = nan(*probe_dims)
        v["ensemble_members"] = nan(*probe_dims, "member")
    if "class_accuracy" in want:
        v["class_accuracy"] = nan("sigma", *probe_dims, "class")
    if "csnr" in want:
        v["csnr"] = nan("sigma", "layer", "input", "class")
        v["csnr_overall"] = nan("sigma", "layer", "input")
    if "csnr_theory" in want:
        v["csnr_theory"] = nan("sigma")
    ds = xr.Dataset(v, coords={k: c[k] for k in c if any(k in dv[0] for dv in v.values())})
    for name, text in DESCRIPTIONS.items():
        if name in ds:
            ds[name].attrs["description"] = text
    return ds


DESCRIPTIONS = {
    "accuracy": "test accuracy of the probe trained at each sigma",
    "val_accuracy": "accuracy on the validation split carved from train (used for selection)",
    "class_accuracy": "per-class test accuracy",
    "best_sigma": "sigma with the highest validation accuracy",
    "ensemble_accuracy": "test accuracy of soft voting over best_sigma and its k neighbours",
    "ensemble_members": "sigmas in the ensemble (NaN-padded)",
    "csnr": "empirical CSNR per class (THEORY.md §4), train split, true class bases",
    "csnr_overall": "empirical CSNR over all classes (ratio of means)",
    "csnr_theory": "closed-form CSNR of the optimal posterior (THEORY.md §5)",
}


# --- features: one forward pass per (batch, sigma) for all layers ------------

def _features_task(task: Task, ctx: Context) -> None:
    spec, data = ctx.spec, ctx.data(task.dataset)
    i, sigma = task.param("sigma_index"), task.param("sigma")
    basis = data.extras.get("U", (None, None))[1]
    train = data.split == "train"
    csnr_k = np.full((len(spec.layers), len(spec.inputs), data.n_classes), np.nan)
    csnr_all = np.full((len(spec.layers), len(spec.inputs)), np.nan)
    per_layer: dict[str, list[np.ndarray]] = {name: [] for name in spec.layers}
    for j, inp in enumerate(spec.inputs):
        feats = ctx.features(task.dataset, sigma, inp == "noisy", i)
        for li, (name, f) in enumerate(feats.items()):
            per_layer[name].append(f)
            if basis is not None and name == OUTPUT and f.shape[1] == basis.shape[1]:
                csnr_all[li, j], csnr_k[li, j] = csnr(f[train], data.y[train], basis)
    for name, fs in per_layer.items():
        part = xr.Dataset({"features": (("sigma", "input", "sample", "channel"),
                                        np.stack(fs)[None].astype(np.float32))},
                          coords={"sigma": [sigma], "input": np.array(spec.inputs, dtype=object)})
        st.write_region(ctx.path, st.group(task.dataset, "features", name), part)
    if "csnr" in spec.metrics:
        part = xr.Dataset(
            {"csnr": (("sigma", "layer", "input", "class"), csnr_k[None]),
             "csnr_overall": (("sigma", "layer", "input"), csnr_all[None])},
            coords={"sigma": [sigma]},
        )
        st.write_region(ctx.path, st.group(task.dataset, "metrics"), part)


def _theory_task(task: Task, ctx: Context) -> None:
    m = ctx.data(task.dataset).meta
    values = csnr_theory(ctx.spec.sigmas, int(m["K"]), int(m["d"]), float(m["delta"]))
    part = xr.Dataset({"csnr_theory": (("sigma",), values)}, coords={"sigma": ctx.spec.sigmas})
    st.write_region(ctx.path, st.group(task.dataset, "metrics"), part)


# --- probes: fit at every sigma, select on validation, ensemble --------------

def select_best(val_acc: np.ndarray) -> int:
    """Grid index with the highest validation accuracy (the lowest sigma on ties).

    Takes validation accuracies only: test labels cannot influence selection.
    """
    return int(np.argmax(val_acc))


def _probe_task(task: Task, ctx: Context) -> None:
    spec, data = ctx.spec, ctx.data(task.dataset)
    layer, inp, label = task.param("layer"), task.param("input"), task.param("probe")
    cfg = next(p for p in spec.probes if p.label == label)
    F = st.open_group(ctx.path, st.group(task.dataset, "features", layer))["features"]
    F = F.sel(input=inp).values.astype(np.float64)  # (S, N, C)
    train, test = np.flatnonzero(data.split == "train"), np.flatnonzero(data.split == "test")
    K, S = data.n_classes, len(spec.sigmas)
    shape = (len(spec.label_noise), len(spec.seeds))
    acc, val = np.full((S, *shape), np.nan), np.full((S, *shape), np.nan)
    cls = np.full((S, *shape, K), np.nan)
    best, ens = np.full(shape, np.nan), np.full(shape, np.nan)
    members = np.full((*shape, 2 * spec.ensemble.k + 1), np.nan)
    y_test = data.y[test]
    for a, p in enumerate(spec.label_noise):
        for b, seed in enumerate(spec.seeds):
            rng = np.random.default_rng(derive_seed(spec.seed, task.dataset, "labels", seed, repr(p)))
            y_noisy = corrupt_labels(data.y[train], p, K, rng)  # noise hits train and validation alike
            fit, hold = train_test_split(np.arange(len(train)), test_size=spec.val_fraction,
                                         random_state=derive_seed(spec.seed, "val", seed), stratify=y_noisy)
            logits = np.empty((S, len(test), K))
            for s in range(S):
                probe = make_probe(cfg, K).fit(F[s, train[fit]], y_noisy[fit])
                val[s, a, b] = (probe.predict(F[s, train[hold]]) == y_noisy[hold]).mean()
                logits[s] = probe.decision_function(F[s, test])
                acc[s, a, b], cls[s, a, b] = accuracy(logits[s].argmax(1), y_test, K)
            i = select_best(val[:, a, b])
            idx = ensemble_members(i, spec.ensemble.k, S)
            best[a, b] = spec.sigmas[i]
            members[a, b, :len(idx)] = np.asarray(spec.sigmas)[idx]
            ens[a, b] = (soft_vote(logits, idx).argmax(1) == y_test).mean()
    sl = {"layer": [layer], "probe": [label], "input": [inp]}

    def put(x, lead, tail=()):  # insert the singleton layer/probe/input axes
        return (*lead, "layer", "label_noise", "seed", "probe", "input", *tail), \
            x.reshape(*x.shape[:len(lead)], 1, *shape, 1, 1, *x.shape[len(lead) + 2:])

    v = {"accuracy": put(acc, ("sigma",)), "val_accuracy": put(val, ("sigma",)),
         "best_sigma": put(best, ()), "ensemble_accuracy": put(ens, ()),
         "ensemble_members": put(members, (), ("member",))}
    if "class_accuracy" in spec.metrics:
        v["class_accuracy"] = put(cls, ("sigma",), ("class",))
    part = xr.Dataset(v, coords={**sl, "sigma": spec.sigmas, "label_noise": spec.label_noise, "seed": spec.seeds})
    st.write_region(ctx.path, st.group(task.dataset, "metrics"), part)


STAGE_FUNCTIONS = {"data": _data_task, "features": _features_task, "theory": _theory_task, "probe": _probe_task}


def run_task(task: Task, ctx: Context) -> None:
    try:
        fn = STAGE_FUNCTIONS[task.stage]
    except KeyError:
        raise ValueError(f"unknown task stage {task.stage!r}; expected one of {sorted(STAGE_FUNCTIONS)}") from None
    fn(task, ctx)
