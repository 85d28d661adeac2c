"""How often the summary's hierarchical interval covers the truth, by number of replicates: a
simulated study, printed with a binomial (Wilson) interval on each coverage.

    python benchmarks/coverage.py [--studies 400] [--confidence 0.95]

Each study trains R "replicates" whose true accuracies differ by `--replicate-sd` around the truth,
scores each on its own test set of n samples (binomial noise), and forms the summary's interval
(`reprdyn.maths.uncertainty.hierarchical`: replicates resampled with replacement, one paired
test resample inside each). The coverage is the share of studies whose interval holds the truth.
A bootstrap over few clusters runs narrow; this prints how narrow.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from reprdyn.maths.uncertainty import hierarchical, resample_counts, resampled_mean


def wilson(hits: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def coverage(R: int, studies: int, confidence: float, sd: float, n: int, B: int, seed: int):
    rng = np.random.default_rng(seed)
    W = resample_counts(n, B, seed=seed + 1)  # (n, B): the paired resamples
    truth, hits = 0.8, 0
    for _ in range(studies):
        p_r = truth + sd * rng.standard_normal(R)  # each replicate's true accuracy
        correct = rng.random((R, 1, n)) < p_r[:, None, None]  # (R, seeds, n)
        draws = resampled_mean(correct, W)  # (R, 1, B)
        _, low, high = hierarchical(draws, confidence, int(rng.integers(1 << 30)))
        hits += low <= truth <= high
    return hits


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--studies", type=int, default=400)
    ap.add_argument("--confidence", type=float, default=0.95)
    ap.add_argument("--replicate-sd", type=float, default=0.02)
    ap.add_argument("--n", type=int, default=800, help="test samples per replicate")
    ap.add_argument("--resamples", type=int, default=300)
    args = ap.parse_args()
    print(
        f"nominal {args.confidence:.0%} interval; replicate sd {args.replicate_sd}, {args.n} test "
        f"samples, {args.resamples} resamples, {args.studies} studies per row"
    )
    for R in (1, 3, 5, 10):
        hits = coverage(
            R, args.studies, args.confidence, args.replicate_sd, args.n, args.resamples, seed=R
        )
        lo, hi = wilson(hits, args.studies)
        print(f"  {R:2d} replicate(s): coverage {hits / args.studies:.3f} [{lo:.3f}, {hi:.3f}]")


if __name__ == "__main__":
    main()
