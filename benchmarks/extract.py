"""Benchmark: feature extraction throughput against bare forward passes of the same network.

    python benchmarks/extract.py [--repeats 5]

Three timings over the same batches, interleaved and repeated (medians reported):
- bare: net(x, sigma) under inference_mode: no hooks, no pooling, no writes;
- reprdyn: iter_features (hooks on every requested layer, pooling) + chunked zarr writes;
- naive: one forward pass per layer, each with a single hook (the usual notebook loop).
Prints throughput ratios measured in this run: reprdyn/bare (target >= 0.85) and reprdyn/naive.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
import torch
import xarray as xr
import zarr

from reprdyn.compute.extract import FORWARD_ROWS, Pass, extract, iter_features
from reprdyn.data.digits import digits
from reprdyn.models.networks import UNet
from reprdyn.models.precond import EDMPrecond
from reprdyn.store import RowWriter
from reprdyn.store.cube import sample_chunk

LAYERS = ["enc.0", "enc.1", "mid", "dec.0", "output"]
SIGMAS = [0.002, 0.06, 0.296, 1.088, 3.257]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument(
        "--batch", type=int, default=512, help="rows per pass of the large-batch baseline"
    )
    args = ap.parse_args()
    torch.manual_seed(0)
    D = EDMPrecond(UNet((1, 8, 8), channels=32, mult=(1, 2))).eval()
    x, _, _ = digits(8, 0.3, 0)
    x = np.concatenate([x] * 3)  # (5391, 1, 8, 8)
    blocks = [torch.as_tensor(x[i : i + FORWARD_ROWS]) for i in range(0, len(x), FORWARD_ROWS)]
    big = [torch.as_tensor(x[i : i + args.batch]) for i in range(0, len(x), args.batch)]
    tmp = tempfile.mkdtemp()
    widths = {name: f.shape[1] for name, f in extract(D, blocks[0][:2], 1.0, LAYERS).items()}
    arrays = {}
    for name, c in widths.items():
        xr.Dataset(
            {
                "features": (
                    ("sigma", "sample", "channel"),
                    np.full((len(SIGMAS), len(x), c), np.nan, np.float32),
                )
            }
        ).to_zarr(
            tmp,
            group=name,
            mode="w",
            consolidated=False,
            encoding={"features": {"chunks": (1, sample_chunk(len(x), c, FORWARD_ROWS), c)}},
        )
        arrays[name] = zarr.open_array(f"{tmp}/{name}/features", mode="r+")

    @torch.inference_mode()
    def bare():  # the same 64-row passes reprdyn makes, nothing else
        for s in SIGMAS:
            for xb in blocks:
                D(xb, s)

    @torch.inference_mode()
    # what larger passes would buy (reprdyn keeps 64 rows so no number depends on it)
    def bare_big():
        for s in SIGMAS:
            for xb in big:
                D(xb, s)

    def ours():  # what the features task does, less CSNR moments
        for i, s in enumerate(SIGMAS):
            writers = {name: RowWriter(a, (i,), a.chunks[1]) for name, a in arrays.items()}
            for start, stop, feats in iter_features(D, x, LAYERS, Pass(s, rows=FORWARD_ROWS)):
                for name, f in feats.items():
                    writers[name].add(start, f)
            for w in writers.values():
                w.flush()

    def naive():
        for s in SIGMAS:
            for name in LAYERS:
                for xb in blocks:
                    extract(D, xb, s, [name])

    bare(), ours()  # warm-up: allocator, thread pools, zarr's event loop
    times = {"bare": [], "bare_big": [], "reprdyn": [], "naive": []}
    for _ in range(args.repeats):
        for name, fn in (
            ("bare", bare),
            ("bare_big", bare_big),
            ("reprdyn", ours),
            ("naive", naive),
        ):
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    n = len(x) * len(SIGMAS)
    print(
        f"samples x sigmas: {n}, layers: {len(LAYERS)}, rows per pass: {FORWARD_ROWS} (large-batch "
        f"baseline: {args.batch}), threads: {torch.get_num_threads()}"
    )
    for k, v in med.items():
        print(f"  {k:8s} median {v:.3f} s  ({n / v:,.0f} samples/s)")
    print(f"throughput ratio reprdyn/bare:  {med['bare'] / med['reprdyn']:.3f}  (target >= 0.85)")
    print(f"speed-up reprdyn vs naive per-layer passes: {med['naive'] / med['reprdyn']:.2f}x")
    print(
        f"cost of fixed 64-row passes (bare 64 / bare {args.batch}): "
        f"{med['bare'] / med['bare_big']:.2f}x"
    )


if __name__ == "__main__":
    main()
