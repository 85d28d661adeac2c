"""Benchmark: the CKA matrix and sliced Wasserstein distances of one analysis task against naive
loops.

    python benchmarks/analyses.py [--sigmas 16] [--samples 1000] [--dims 256]

Features of one layer across a sigma grid (random ReLU features of growing noise,
the shape of a real analysis task). CKA: `cka_matrix` centres each feature set
and forms its Gram (or covariance) matrix once, against the textbook loop that
recomputes both centred Gram matrices for every pair. Sliced Wasserstein: POT
on all sigmas against a loop that draws projections and sorts per pair by hand
in numpy. Prints the ratios (naive / reprdyn) and the largest disagreement.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from reprdyn.maths.distances import cka_matrix, sliced_wasserstein


def naive_cka(X: np.ndarray, Y: np.ndarray) -> float:
    n = len(X)
    H = np.eye(n) - 1.0 / n  # centring matrix
    K, L = H @ X @ X.T @ H, H @ Y @ Y.T @ H
    return float((K * L).sum() / np.sqrt((K * K).sum() * (L * L).sum()))


def naive_sw(X: np.ndarray, Y: np.ndarray, projections: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    P = rng.standard_normal((X.shape[1], projections))
    P /= np.linalg.norm(P, axis=0, keepdims=True)
    return float(np.sqrt(np.mean([np.mean((np.sort(X @ p) - np.sort(Y @ p)) ** 2) for p in P.T])))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sigmas", type=int, default=16)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--dims", type=int, default=256)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.samples, 64))
    W = rng.standard_normal((64, args.dims)) / 8
    feats = [
        np.maximum((x + s * rng.standard_normal(x.shape)) @ W, 0)
        for s in np.geomspace(0.01, 10, args.sigmas)
    ]

    t = time.perf_counter()
    ours = cka_matrix(feats)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    ref = np.array([[naive_cka(a, b) for b in feats] for a in feats])
    t_naive = time.perf_counter() - t
    print(
        f"CKA {args.sigmas}x{args.sigmas}, n={args.samples}, C={args.dims}: reprdyn {t_ours:.3f} "
        f"s, pairwise loop {t_naive:.3f} s -> {t_naive / t_ours:.1f}x; max |diff| "
        f"{np.abs(ours - ref).max():.2e}"
    )

    ref_i = len(feats) // 2
    t = time.perf_counter()
    sw = [sliced_wasserstein(f, feats[ref_i], 128, 0) for f in feats]
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    sw_naive = [naive_sw(f, feats[ref_i], 128, 0) for f in feats]
    t_naive = time.perf_counter() - t
    rel = np.max(np.abs(np.array(sw) - sw_naive) / np.maximum(sw_naive, 1e-12))
    print(
        f"sliced W2, {args.sigmas} sigmas x 128 projections: POT {t_ours:.3f} s, numpy loop "
        f"{t_naive:.3f} s "
        f"-> {t_naive / t_ours:.2f}x; max relative diff {rel:.2%} (different random projections)"
    )


if __name__ == "__main__":
    main()
