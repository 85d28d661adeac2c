"""The segmentation probe protocol (docs/theory.md §7) for one model replicate at one sigma, after
Baranchuk et al. 2022, with the classification protocol's honesty.

A seeded subset of the train images is split into fit and validation images; label noise moves
pixel labels of both (never `ignore` pixels). Pass 1 streams the fit images: `seg-linear` sums its
normal equations over every pixel, and `seg-mlp` keeps only seeded samples of pixels
(class-balanced if asked), on which its ensemble is trained. Pass 2 streams validation and test
images into confusion matrices, per test image so that test images can be resampled: lambda is
chosen on validation mIoU, and only `scores` reads the clean test masks. No pixel feature is ever
held for a whole image set (`reprdyn.compute.dense`).
"""

from __future__ import annotations

import numpy as np
import torch

from ..compute.dense import iter_maps, pixel_slices, sample_pixels
from ..compute.extract import Pass
from ..maths.segmentation import confusions, image_confusions, mean_iou
from ..seeds import derive_seed
from .labels import corrupt_labels
from .neural import MLPProbe
from .segmentation import SegLinear


def resampled_miou(W: np.ndarray, by_image: np.ndarray) -> np.ndarray:
    """(T, B) test mIoU of each resample of the test images, from per-image confusions (n, T, M, M)
    and resample counts W (B, n): the confusions of a resample are exact integer sums."""
    resampled = np.einsum("bi,itmk->btmk", W, by_image.astype(np.float64))  # (B, T, M, M)
    return mean_iou(resampled).T


def image_sets(spec, dataset: str, data) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fit, validation, test) image indices: seeded subsets of the train and test splits; each
    draw has its own stream, so changing one size never moves the other sets."""
    seg = spec.segmentation

    def pick(pool: np.ndarray, n: int | None, what: str) -> np.ndarray:
        rng = np.random.default_rng(derive_seed(spec.seed, dataset, "segment", what, seg.seed))
        return np.sort(rng.permutation(pool)[:n]) if n is not None else pool

    train = pick(np.flatnonzero(data.split == "train"), seg.train_images, "train")
    test = pick(np.flatnonzero(data.split == "test"), seg.test_images, "test")
    n_val = min(max(1, round(spec.val_fraction * len(train))), len(train) - 1)
    order = np.random.default_rng(derive_seed(spec.seed, dataset, "segment", "val", seg.seed))
    perm = order.permutation(len(train))
    return np.sort(train[perm[n_val:]]), np.sort(train[perm[:n_val]]), test


class PixelLabels:
    """Pixel labels of an image for every (label-noise level, seed): (T, H*W), clean where the
    mask says `ignore`; the noise of image i depends on (spec seed, dataset, i, level, seed) only.
    Computed when asked, never kept: small arrays held across a pass fragment the heap."""

    def __init__(self, spec, dataset: str, data):
        self.spec, self.dataset, self.data = spec, dataset, data

    def __call__(self, image: int) -> np.ndarray:
        spec, data = self.spec, self.data
        flat = data.masks[image].reshape(-1).astype(np.int64)
        ok = flat != data.ignore_index
        rows = []
        for p in spec.label_noise:
            for r in spec.seeds:
                y = flat.copy()
                if p > 0:
                    seed = derive_seed(spec.seed, self.dataset, "pixels", int(image), r, repr(p))
                    rng = np.random.default_rng(seed)
                    y[ok] = corrupt_labels(
                        flat[ok], p, len(data.mask_classes), rng, spec.label_noise_kind
                    )
                rows.append(y)
        return np.stack(rows)


class Stream:
    """One input's dense features at one sigma: `slices(images)` yields (image indices, row range,
    {dense set: (g, rows, W, C) pixel features}) for the images in order."""

    def __init__(self, ctx, net, x0, sigma: float, noise, size: tuple[int, int], rows: int):
        self.ctx, self.net, self.x0, self.sigma = ctx, net, x0, sigma
        self.noise, self.size, self.rows = noise, size, rows
        self.sets = ctx.spec.dense
        self.layers = sorted({x for members in self.sets.values() for x in members})

    def slices(self, images: np.ndarray):
        spec = self.ctx.spec
        how = Pass(self.sigma, self.noise, spec.noise_draws, self.rows, self.ctx.device)
        for idx, maps in iter_maps(self.net, self.x0, images, self.layers, how):
            for name, members in self.sets.items():
                for a, b, r0, r1, X in pixel_slices([maps[m] for m in members], self.size):
                    yield name, idx[a:b], (r0, r1), X


def fit_probes(task, ctx, stream: Stream, fit: np.ndarray, labels: PixelLabels, probes, inp: str):
    """Pass 1 over the fit images: {(dense set, probe label): fitted probe}, each answering
    `decision_function(X)` with scores (T, L, m, M): L ridge penalties, or L = 1."""
    spec, data = ctx.spec, ctx.data.get(task.dataset)
    seg, W, M = spec.segmentation, data.masks.shape[2], len(data.mask_classes)
    # streamed (seg-linear): normal equations over every pixel, per (dense set, probe)
    linear = {
        (name, p.label): SegLinear(M, p.lambdas, ctx.device)
        for p in probes
        if p.pixels == "stream"
        for name in spec.probe_layers(p)
    }
    # sampled (seg-mlp): each fit image gives its share of max_pixels, chosen before any feature
    # exists
    sampled = {name for p in probes if p.pixels == "sample" for name in spec.probe_layers(p)}
    share = -(-seg.max_pixels // max(len(fit), 1))
    chosen = {
        int(k): sample_pixels(
            data.masks[k],
            share,
            data.ignore_index,
            seg.class_balanced,
            np.random.default_rng(derive_seed(spec.seed, task.dataset, "sample", int(k), seg.seed)),
        )
        for k in fit
    }
    # one buffer per dense set, filled in image order: nothing small is kept between slices
    offset = dict(zip(chosen, np.cumsum([0] + [len(v) for v in chosen.values()])[:-1]))
    n_sampled = sum(len(v) for v in chosen.values())
    samples: dict[str, torch.Tensor] = {}
    for name, images, (r0, r1), X in stream.slices(fit):
        X = X.reshape(len(images), -1, X.shape[-1])  # (g, rows * W, C)
        Y = np.stack([labels(k)[:, r0 * W : r1 * W] for k in images], 1)  # (T, g, rows * W)
        solvers = [solver for (set_name, _), solver in linear.items() if set_name == name]
        if solvers:  # the labelled pixels, once for every seg-linear probe reading this set
            keep = data.masks[images, r0:r1].reshape(-1) != data.ignore_index  # (g * rows * W,)
            Xk = X.reshape(-1, X.shape[-1])[torch.as_tensor(keep, device=X.device)]
            Yk = Y.reshape(len(Y), -1)[:, keep]
            for solver in solvers:
                solver.partial_fit(Xk, Yk)
        if name in sampled and name not in samples:
            samples[name] = X.new_empty((n_sampled, X.shape[-1]))  # (n, C)
        for g, k in enumerate(images if name in sampled else ()):
            at = chosen[int(k)]
            inside = (at >= r0 * W) & (at < r1 * W)
            start = offset[int(k)] + int(np.count_nonzero(at < r0 * W))
            rows = torch.as_tensor(at[inside] - r0 * W, device=X.device)  # within these rows
            samples[name][start : start + len(rows)] = X[g, rows]
    fitted = {key: solver.solve() for key, solver in linear.items()}
    if sampled:  # the sampled pixels' labels, in the same image order: (T, n)
        Y = np.concatenate([labels(k)[:, chosen[int(k)]] for k in fit], axis=1)
    for p in probes:
        for name in spec.probe_layers(p) if p.pixels == "sample" else ():
            X = samples[name][None]  # (1, n, C)
            seed = derive_seed(spec.seed, task.dataset, task.params.model, name, inp, p.label)
            fitted[name, p.label] = Ensemble.fit(p, M, seed, task.params.sigma, spec, X, Y)
    return fitted


class Ensemble:
    """The seg-mlp ensemble, fitted as one MLPProbe over T x E target sets (member fastest), each
    member initialised from its own seed (sigma, label-noise level, seed, member); its scores are
    the members' mean softmax, (T, 1, m, M)."""

    def __init__(self, probe: MLPProbe, members: int):
        self.probe, self.members = probe, members

    @classmethod
    def fit(cls, cfg, M: int, seed: int, sigma: float, spec, X, Y: np.ndarray) -> Ensemble:
        E = cfg.ensemble
        cells = [
            [
                derive_seed(seed, repr(float(sigma)), repr(float(p)), r, e)
                for p in spec.label_noise
                for r in spec.seeds
                for e in range(E)
            ]
        ]
        params = cfg.model_dump(include={"epochs", "batch_size", "lr", "weight_decay", "hidden"})
        probe = MLPProbe(M, **params, seed=seed, device=str(X.device))
        return cls(probe.fit(X, np.repeat(Y, E, axis=0), seeds=cells), E)

    def decision_function(self, X: torch.Tensor) -> torch.Tensor:
        logits = self.probe.decision_function(X[None])[0]  # (T * E, m, M)
        prob = torch.softmax(logits, -1)
        return prob.view(-1, self.members, *prob.shape[1:]).mean(1)[:, None]  # (T, 1, m, M)


def scores(stream: Stream, fitted: dict, val, test, labels: PixelLabels, data, M: int):
    """Pass 2: per fitted probe, confusion matrices (T, L, M, M) on the validation images (noisy
    labels, as in training) and on the test images (clean masks)."""
    is_val = set(val.tolist())
    position = {int(k): n for n, k in enumerate(test)}  # a test image's row in the test set
    conf = {key: [None, None] for key in fitted}
    images = np.concatenate([val, test])
    W = data.masks.shape[2]
    for name, idx, (r0, r1), X in stream.slices(images):
        X = X.reshape(-1, X.shape[-1])  # (g * rows * W, C)
        for part, sel in ((0, [k in is_val for k in idx]), (1, [k not in is_val for k in idx])):
            sel = np.asarray(sel)
            if not sel.any():
                continue
            mine = idx[sel]
            clean = data.masks[mine, r0:r1].reshape(-1).astype(np.int64)  # (m,)
            truth = (
                np.concatenate([labels(k)[:, r0 * W : r1 * W] for k in mine], axis=1)
                if part == 0
                else clean[None]
            )  # (T or 1, m)
            rows = torch.as_tensor(np.repeat(sel, (r1 - r0) * W), device=X.device)
            keep = clean != data.ignore_index
            for (set_name, label), probe in fitted.items():
                if set_name != name:
                    continue
                pred = probe.decision_function(X[rows]).argmax(-1).cpu().numpy()  # (T, L, m)
                if part == 0:  # validation: one sum
                    c = confusions(truth, pred, keep, M)
                    prev = conf[set_name, label][0]
                    conf[set_name, label][0] = c if prev is None else prev + c
                    continue
                # test: per image (n_test, T, L, M, M), for resampling test images
                if conf[set_name, label][1] is None:
                    conf[set_name, label][1] = np.zeros(
                        (len(test), *pred.shape[:2], M, M), np.int64
                    )
                img = np.repeat([position[int(k)] for k in mine], (r1 - r0) * W)  # (m,)
                local, inverse = np.unique(img, return_inverse=True)
                c = image_confusions(truth, pred, keep, M, inverse.ravel(), len(local))
                conf[set_name, label][1][local] += c
    return [conf[k][0] for k in fitted], [conf[k][1] for k in fitted]
