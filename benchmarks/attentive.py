"""Benchmark: the attentive probe fitted for every (sigma, label set) pair at once against a plain
loop that fits the pairs one at a time.

    python benchmarks/attentive.py [--sigmas 6] [--epochs 20]

Tokens of digits size: scikit-learn's digits (1,257 train / 540 test), each 8x8 image cut into
16 tokens of 2x2 pixels (C = 4) with input noise growing along the sigma grid; 3 label-noise
levels. The loop fits the same probe on one sigma and one label set at a time, with the same
seeds; the batched fit's logits should be those of the loop (each pair is its own problem).
Prints both times, their ratio and the largest logit difference, all measured here.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from probes import targets  # this folder: run as python benchmarks/attentive.py

from reprdyn.data.digits import digits
from reprdyn.probes.attentive import AttentiveProbe

NOISE = [0.0, 0.2, 0.4]


def tokens(n_sigmas: int, rng: np.random.Generator):
    x, y, n_train = digits(8, 0.3, 0)
    x = x.reshape(len(x), 4, 2, 4, 2).transpose(0, 1, 3, 2, 4).reshape(len(x), 16, 4)  # (N, L, C)
    sigmas = np.geomspace(0.05, 2, n_sigmas)
    return np.stack([x + s * rng.standard_normal(x.shape) for s in sigmas]), y, n_train


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sigmas", type=int, default=6)
    ap.add_argument("--epochs", type=int, default=20)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    X, y, n = tokens(args.sigmas, rng)  # (S, N, L, C)
    Y = targets(y[:n], NOISE)  # (T, n)
    S, T = X.shape[0], len(NOISE)
    seeds = (1000 * np.arange(S)[:, None] + np.arange(T)[None]).tolist()
    kw = dict(heads=4, head_dim=16, epochs=args.epochs, batch_size=128, lr=0.003)
    print(f"threads {torch.get_num_threads()}; {S} sigmas x {T} label sets, {n} train, "
          f"16 tokens x 4 channels, {args.epochs} epochs")  # fmt: skip
    t0 = time.perf_counter()
    batched = AttentiveProbe(10, **kw).fit(X[:, :n], Y, seeds=seeds)
    logits = batched.decision_function(X[:, n:])  # (S, T, m, K)
    t_batched = time.perf_counter() - t0
    t0 = time.perf_counter()
    worst = 0.0
    for s in range(S):
        for t in range(T):
            one = AttentiveProbe(10, **kw).fit(
                X[s : s + 1, :n], Y[t : t + 1], seeds=[[seeds[s][t]]]
            )
            alone = one.decision_function(X[s : s + 1, n:])[0, 0]
            worst = max(worst, float((alone - logits[s, t]).abs().max()))
    t_loop = time.perf_counter() - t0
    acc = (logits.argmax(-1).numpy() == y[n:]).mean(-1)  # (S, T)
    print(f"plain loop of pairs {t_loop:8.2f} s")
    print(f"reprdyn batched     {t_batched:8.2f} s  = {t_loop / t_batched:.1f}x")
    print(f"largest |logit difference| batched vs alone: {worst:.3g}")
    print(f"test accuracy at label noise 0, per sigma: {np.round(acc[:, 0], 3).tolist()}")


if __name__ == "__main__":
    torch.set_num_threads(2)
    main()
