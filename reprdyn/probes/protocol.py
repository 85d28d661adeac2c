"""The classification probe protocol (docs/theory.md §6, §8), for one (layer, input, probe) cell
over the whole sigma x (label noise x seed) grid.

A validation split fixed per spec and dataset; label noise on train and validation alike; sigma*,
lambda and C chosen on validation accuracy only (`choose` never sees a test label); test accuracy
per sigma, at sigma* and for the soft-voting ensemble, read in `evaluate`, the only place test
labels are used; and the paired bootstrap of all of it (`resampled`). The raw-input baseline
`pixels` is `pixel_stack`.
"""

from __future__ import annotations

import numpy as np

from ..maths.uncertainty import resample_counts, resampled_mean, share_chosen
from ..seeds import derive_seed
from .ensemble import accuracy, select, soft_vote
from .labels import corrupt_labels


def pixel_stack(spec, dataset: str, model: str, x0: np.ndarray, inp: str) -> np.ndarray:
    """The raw-input baseline's feature sets: x0 flattened, (1, N, D) for clean input; for noisy
    input x0 + sigma eps at every sigma with the very noise the network sees (averaged over the
    same draws), (S, N, D)."""
    flat = np.asarray(x0, np.float64).reshape(len(x0), -1)
    if inp != "noisy":
        return flat[None]
    out = np.empty((len(spec.sigmas), *flat.shape))
    for i, sigma in enumerate(spec.sigmas):
        from ..compute.extract import input_noise

        noise = input_noise(spec, dataset, model, sigma, x0.shape[1:], inp)
        eps = sum(noise(0, len(x0), j) for j in range(spec.noise_draws)) / spec.noise_draws
        out[i] = flat + sigma * eps.reshape(len(x0), -1)
    return out


def broadcast(a: np.ndarray, S: int) -> np.ndarray:
    """A one-sigma result repeated over the grid (the clean pixel baseline), else as it is."""
    return np.broadcast_to(a, (S, *a.shape[1:])) if len(a) == 1 < S else a


def resampled(spec, dataset: str, val_correct: np.ndarray, logits: np.ndarray, y_test) -> tuple:
    """The paired bootstrap of one cell: every resample b redraws the validation and the test
    samples (the same counts in every cell of the dataset), re-chooses sigma* and the ensemble on
    the resampled validation split, and scores them on the resampled test split.

    Returns test accuracy per sigma (S, T, B), at the resampled sigma* (T, B), of the resampled
    ensemble (T, B), and the share of resamples choosing each sigma (S, T)."""
    S, T = logits.shape[:2]
    B = spec.bootstrap
    Wv, Wt = (
        bootstrap_counts(spec, dataset, part, n)
        for part, n in (("val", val_correct.shape[-1]), ("test", len(y_test)))
    )
    hits = logits.argmax(-1) == y_test  # (S, T, m)
    acc_b = resampled_mean(hits, Wt)  # (S, T, B)
    val_b = resampled_mean(val_correct, Wv)  # (S, T, B)
    best_b = val_b.argmax(0)  # (T, B): the lowest sigma on ties, as `select`
    t_, b_ = np.meshgrid(np.arange(T), np.arange(B), indexing="ij")
    best_acc_b = acc_b[best_b, t_, b_]  # (T, B)
    ens_b = _ensemble_resampled(spec, val_b, best_b, logits, y_test, Wt)  # (T, B)
    return acc_b, best_acc_b, ens_b, share_chosen(best_b, S)


def bootstrap_counts(spec, dataset: str, part: str, n: int) -> np.ndarray:
    """(B, n) resample counts of a dataset's `part` (val, test or segment-test): one draw per
    dataset, so every cell, model and replicate reads the same resamples."""
    seed = derive_seed(spec.seed, dataset, "bootstrap", part, spec.analysis.seed)
    return resample_counts(n, spec.bootstrap, seed)


def _ensemble_resampled(spec, val_b, best_b, logits, y_test, Wt) -> np.ndarray:
    """Ensemble test accuracy under each resample, its members chosen on that resample's
    validation accuracies: each distinct member set is soft-voted once."""
    S, T, B = val_b.shape
    grid = np.arange(S)
    ens = spec.ensemble
    if ens.strategy == "neighbours":
        masks = np.abs(grid[None, None] - best_b[..., None]) <= ens.k  # (T, B, S)
    elif ens.strategy == "all":
        masks = np.ones((T, B, S), bool)
    else:  # top: the m best on validation, ties to the lower sigma, as `select`
        order = np.argsort(-val_b, axis=0, kind="stable")[: min(ens.m, S)]  # (m, T, B)
        masks = np.zeros((T, B, S), bool)
        t_, b_ = np.meshgrid(np.arange(T), np.arange(B), indexing="ij")
        for row in order:
            masks[t_, b_, row] = True
    out = np.empty((T, B))
    for t in range(T):
        sets, inverse = np.unique(masks[t], axis=0, return_inverse=True)  # (U, S), (B,)
        hits = np.stack(
            [soft_vote(logits[:, t], np.flatnonzero(m)).argmax(-1) == y_test for m in sets]
        )
        out[t] = resampled_mean(hits, Wt)[np.ravel(inverse), np.arange(B)]  # (U, B) -> (B,)
    return out


def member_sigmas(spec, members: list[np.ndarray]) -> np.ndarray:
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
