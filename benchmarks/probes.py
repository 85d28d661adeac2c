"""Benchmark: the batched probe grid against a plain loop of scikit-learn LogisticRegression fits.

    python benchmarks/probes.py [--dims 256] [--sigmas 12]

Features of digits size: scikit-learn's digits (1,257 train / 540 test, 10 classes) through a fixed
random ReLU layer of `dims` units, with input noise that grows along a 12-point sigma grid; 5
label-noise levels (0..0.8). That is a grid of 60 probes. The baseline standardises each feature set
with its train statistics and fits LogisticRegression(C=1, max_iter=1000) per probe. Prints the
speed ratios (loop / batched) and the accuracy deltas, all measured here; and what computing each
pair's logits with GEMMs of its own shape costs against one T-wide einsum.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from reprdyn.data.digits import digits
from reprdyn.probes import LogisticProbe, RidgeProbe, corrupt_labels
from reprdyn.probes.base import affine

NOISE = [0.0, 0.2, 0.4, 0.6, 0.8]


def features(dims: int, n_sigmas: int, rng: np.random.Generator):
    x, y, n_train = digits(8, 0.3, 0)
    x = x.reshape(len(x), -1)  # (N, 64)
    W = rng.standard_normal((64, dims)) / 8
    sigmas = np.geomspace(0.05, 4, n_sigmas)
    # (S, N, dims)
    F = np.stack([np.maximum((x + s * rng.standard_normal(x.shape)) @ W, 0) for s in sigmas])
    return F, y, n_train


def targets(y: np.ndarray, levels=NOISE) -> np.ndarray:
    """One label vector per label-noise level, each drawn from its own seed: (T, n)."""
    return np.stack(
        [corrupt_labels(y, p, 10, np.random.default_rng(i)) for i, p in enumerate(levels)]
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dims", type=int, default=256)
    ap.add_argument("--sigmas", type=int, default=12)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    F, y, n = features(args.dims, args.sigmas, rng)
    tr, te = slice(0, n), slice(n, None)
    Y = targets(y[tr])  # (T, n)
    S, T = F.shape[0], len(NOISE)
    print(
        f"grid: {S} sigmas x {T} label-noise levels = {S * T} probes; {n} train, {len(y) - n} "
        f"test, {args.dims} dims, 10 classes"
    )

    t = time.perf_counter()
    loop_acc = np.empty((S, T))
    for s in range(S):
        sc = StandardScaler().fit(F[s, tr])
        Xtr, Xte = sc.transform(F[s, tr]), sc.transform(F[s, te])
        for j in range(T):
            m = LogisticRegression(C=1.0, max_iter=1000).fit(Xtr, Y[j])
            loop_acc[s, j] = (m.predict(Xte) == y[te]).mean()
    t_loop = time.perf_counter() - t

    t = time.perf_counter()
    ridge = RidgeProbe(10, selection="gcv").fit(F[:, tr], Y)
    ridge_acc = (ridge.predict(F[:, te]).numpy() == y[te]).mean(-1)
    t_ridge = time.perf_counter() - t

    t = time.perf_counter()
    ridge_loo = RidgeProbe(10, selection="loo").fit(F[:, tr], Y)
    loo_acc = (ridge_loo.predict(F[:, te]).numpy() == y[te]).mean(-1)
    t_loo = time.perf_counter() - t

    t = time.perf_counter()
    logi = LogisticProbe(10, C=1.0).fit(F[:, tr], Y)
    logi_acc = (logi.predict(F[:, te]).numpy() == y[te]).mean(-1)
    t_logi = time.perf_counter() - t

    print(f"  scikit-learn loop   {t_loop:8.3f} s")
    print(f"  ridge grid, GCV     {t_ridge:8.3f} s   (lambda by GCV over 13 values, the default)")
    print(f"  ridge grid, LOO     {t_loo:8.3f} s   (lambda by exact leave-one-out over 13 values)")
    print(f"  batched logistic    {t_logi:8.3f} s")
    print(f"speed-up ridge (GCV) vs loop: {t_loop / t_ridge:7.1f}x  (target >= 50x)")
    print(f"speed-up ridge (LOO) vs loop: {t_loop / t_loo:7.1f}x")
    print(f"speed-up logistic vs loop:    {t_loop / t_logi:7.1f}x  (target >= 3x)")
    d = np.abs(logi_acc - loop_acc) * 100
    print(
        f"logistic |delta accuracy| vs loop: mean {d.mean():.3f} points, max {d.max():.3f} (target "
        "mean <= 0.5)"
    )
    pair_shaped_cost(logi, ridge, F[:, te])
    for name, acc in (("ridge GCV", ridge_acc), ("ridge LOO", loo_acc)):
        print(
            f"{name} - loop accuracy by label noise (points): "
            + ", ".join(
                f"p={p}: {100 * (acc[:, j] - loop_acc[:, j]).mean():+.2f}"
                for j, p in enumerate(NOISE)
            )
        )


def pair_shaped_cost(logi: LogisticProbe, ridge: RidgeProbe, X_test, repeats: int = 20) -> None:
    """The cost of logits from GEMMs of each pair's own shape (`probes.base.affine`, what the probes
    use) against one T-wide einsum (the baseline, which folds T into the GEMM's columns and so
    rounds by the stack's shape), on the test features; and how far the two drift apart."""
    for name, probe in (("logistic", logi), ("ridge", ridge)):
        Xs = probe.transform_input(X_test)  # (S, m, D)

        def folded():
            return torch.einsum("smd,stdk->stmk", Xs, probe.coef_) + probe.intercept_[:, :, None]

        def per_pair():
            return affine(Xs, probe.coef_, probe.intercept_)

        t_fold, t_pair = _best_of(folded, repeats), _best_of(per_pair, repeats)
        a, b = folded(), per_pair()
        ulp = torch.finfo(a.dtype).eps * a.abs().clamp_min(1)
        print(
            f"{name} logits, per-pair GEMMs vs one T-wide einsum: {t_pair * 1e3:7.2f} ms vs "
            f"{t_fold * 1e3:7.2f} ms = {t_pair / t_fold:.2f}x the cost; they differ in "
            f"{(a != b).double().mean() * 100:.1f}% of logits, by at most "
            f"{float(((a - b).abs() / ulp).max()):.1f} ulp"
        )


def _best_of(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


if __name__ == "__main__":
    main()
