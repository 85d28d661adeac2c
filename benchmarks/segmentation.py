"""Peak memory of a segmentation run against the number of images: pixel features are streamed,
never held for a whole image set, so 8x the images must cost less than 1.3x the peak memory.

    python benchmarks/segmentation.py [--images 150] [--factor 8]

A U-Net on 32x32 glyphs (trained once, 1 epoch, cached) gives a dense set of 64 channels:
materialised in float64, N = 150 training images' pixel features take 0.08 GB, 8N 0.63 GB.
Each size runs in a fresh process that reports its wall time and peak resident memory
(ru_maxrss); the baseline is the same run with N images, in the same session.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time

SPEC = """\
spec_version: 1
name: seg-bench
seed: 0
model:
  kind: diffusion
  network: {{kind: unet, channels: 32, mult: [1, 2], blocks: 1}}
  precond: {{kind: edm, sigma_data: 0.5}}
  train: {{data: train, epochs: 1, batch_size: 64}}
datasets:
  - {{kind: glyphs, name: glyphs, size: 32, n_train: {n}, n_test: {n_test}, mask: binary}}
sigma: [0.1, 1.0]
dense: {{decoder: [dec.0, dec.1]}}
inputs: [clean, noisy]
probes:
  - {{kind: seg-linear}}
  - {{kind: seg-mlp, hidden: 32, epochs: 2, ensemble: 2}}
segmentation: {{max_pixels: 20000}}
compute: {{cache: {cache}}}
"""
# the model always learns from the same 200 images, so every size probes one checkpoint
TRAIN = "\n".join(
    ["  train:", "    data: {kind: glyphs, name: train, size: 32, n_train: 200, n_test: 10}"]
)


def spec_text(n: int, cache: str) -> str:
    text = SPEC.format(n=n, n_test=max(n // 2, 10), cache=cache)
    return text.replace("  train: {data: train, epochs: 1, batch_size: 64}\n", "").replace(
        "  precond: {kind: edm, sigma_data: 0.5}\n",
        "  precond: {kind: edm, sigma_data: 0.5}\n"
        + TRAIN
        + "\n    epochs: 1\n    batch_size: 64\n",
    )


def one(n: int, cache: str) -> dict:
    import torch

    import reprdyn
    from reprdyn.spec import validate_text

    torch.set_num_threads(1)
    spec = validate_text(spec_text(n, cache))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        reprdyn.run(spec, store=f"{tmp}/s.zarr")
        wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    return {"images": n, "wall_s": round(wall, 1), "peak_rss_gb": round(rss, 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=150)
    ap.add_argument("--factor", type=int, default=8)
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.cache)))
        return
    with tempfile.TemporaryDirectory() as cache:
        run = [sys.executable, __file__, "--cache", cache, "--one"]
        subprocess.run(run + ["20"], check=True, capture_output=True)  # train the model once
        rows = []
        for n in (args.images, args.images * args.factor):
            out = subprocess.run(run + [str(n)], check=True, capture_output=True, text=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            r = rows[-1]
            rss = r["peak_rss_gb"]
            print(f"{r['images']:>6} train images: {r['wall_s']:7.1f} s, peak RSS {rss:.3f} GB")
    ratio = rows[1]["peak_rss_gb"] / rows[0]["peak_rss_gb"]
    verdict = "ok" if ratio < 1.3 else "OVER"
    print(
        f"peak memory ratio {args.factor}N / N: {ratio:.2f} (target < 1.3: {verdict}); time ratio "
        f"{rows[1]['wall_s'] / rows[0]['wall_s']:.1f}"
    )


if __name__ == "__main__":
    main()
