"""Benchmark: the batched k-NN probe against scikit-learn's KNeighborsClassifier and a plain
PyTorch loop over test samples.

    python benchmarks/knn.py [--dims 256] [--sigmas 12] [--k 20]

The same digits-size grid as `probes.py`: scikit-learn's digits (1,257 train / 540 test) through a
fixed random ReLU layer, input noise growing along 12 sigmas, 5 label-noise levels: 60 probes. All
three compute DINO's weighted cosine vote (weight exp(sim / 0.07), k = 20). scikit-learn fits one
KNeighborsClassifier per (sigma, level) with brute-force cosine distances; the plain loop scores
one test sample at a time in PyTorch. Prints the times, the ratios against each baseline (measured
here) and how many predictions differ.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from probes import NOISE, features, targets
from sklearn.neighbors import KNeighborsClassifier

from reprdyn.probes.knn import KNNProbe

TEMPERATURE = 0.07


def sklearn_loop(F, Y, tr, te, k) -> np.ndarray:
    out = np.empty((F.shape[0], Y.shape[0], F[:, te].shape[1]), int)
    for s in range(F.shape[0]):
        for t in range(Y.shape[0]):
            clf = KNeighborsClassifier(
                n_neighbors=k, metric="cosine", algorithm="brute",
                weights=lambda d: np.exp((1 - d) / TEMPERATURE),
            )  # fmt: skip
            out[s, t] = clf.fit(F[s, tr], Y[t]).predict(F[s, te])
    return out


def plain_loop(F, Y, tr, te, k, K=10) -> np.ndarray:
    """One test sample at a time: its similarities, its k neighbours, their weighted vote."""
    train = torch.nn.functional.normalize(torch.as_tensor(F[:, tr], dtype=torch.float32), dim=-1)
    test = torch.nn.functional.normalize(torch.as_tensor(F[:, te], dtype=torch.float32), dim=-1)
    labels = torch.as_tensor(Y)
    out = np.empty((F.shape[0], Y.shape[0], test.shape[1]), int)
    for s in range(F.shape[0]):
        for i in range(test.shape[1]):
            sim, idx = torch.topk(train[s] @ test[s, i], k)
            w = torch.exp(sim.double() / TEMPERATURE)
            for t in range(Y.shape[0]):
                votes = torch.zeros(K, dtype=torch.float64).scatter_add_(0, labels[t][idx], w)
                out[s, t, i] = int(votes.argmax())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dims", type=int, default=256)
    ap.add_argument("--sigmas", type=int, default=12)
    ap.add_argument("--k", type=int, default=20)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    F, y, n = features(args.dims, args.sigmas, rng)
    tr, te = slice(0, n), slice(n, None)
    Y = targets(y[tr])  # (T, n)
    print(f"threads {torch.get_num_threads()}; {F.shape[0]} sigmas x {len(NOISE)} levels, "
          f"{n} train / {len(y) - n} test, {args.dims} dims, k={args.k}")  # fmt: skip
    t0 = time.perf_counter()
    ref = sklearn_loop(F, Y, tr, te, args.k)
    t_sk = time.perf_counter() - t0
    t0 = time.perf_counter()
    loop = plain_loop(F, Y, tr, te, args.k)
    t_loop = time.perf_counter() - t0
    t0 = time.perf_counter()
    probe = KNNProbe(10, k=args.k, temperature=TEMPERATURE).fit(F[:, tr], Y)
    ours = probe.predict(F[:, te]).numpy()
    t_ours = time.perf_counter() - t0
    print(f"scikit-learn loop  {t_sk:8.3f} s")
    print(f"plain torch loop   {t_loop:8.3f} s")
    print(f"reprdyn batched    {t_ours:8.3f} s  = {t_sk / t_ours:.1f}x vs scikit-learn, "
          f"{t_loop / t_ours:.1f}x vs the loop")  # fmt: skip
    print(f"predictions that differ: vs scikit-learn {np.mean(ours != ref):.4%}, "
          f"vs the loop {np.mean(ours != loop):.4%} (of {ours.size})")  # fmt: skip


if __name__ == "__main__":
    torch.set_num_threads(2)
    main()
