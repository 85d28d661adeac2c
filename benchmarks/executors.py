"""Benchmark: the dask executor (2-worker LocalCluster) against the local executor on an
extraction-heavy spec.

    python benchmarks/executors.py [--repeats 2] [--spec unet|mlp]

Two extraction-heavy specs. `unet`: a U-Net (channels 48, mult [1, 2]) on scikit-learn's digits, 24
sigmas, clean and noisy inputs with 2 noise draws, four layers, ridge probes. `mlp`: a width-256 MLP
DDPM on MoLRG (8,000 samples), 20 timesteps, clean and noisy inputs with 4 draws, 64-row passes,
three layers: many small forward passes, where Python overhead rather than BLAS sets the pace. The
model is trained once beforehand (the checkpoint cache is shared), so both executors time the same
work: extraction, CSNR, probes and writes. Local runs in one process, one task at a time, on
compute.threads (1 by default); dask runs two single-threaded worker processes, cluster start-up
included. Prints the throughput ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time

MLP_SPEC = """spec_version: 1
name: bench-executors-mlp
model:
  kind: diffusion
  network: {kind: mlp, width: 256}
  precond: {kind: vp}
  train: {data: molrg, steps: 5, batch_size: 64}
datasets: [{kind: molrg, name: molrg, n: 50, K: 3, d: 5, delta: 0.3, n_train: 6000, n_test: 2000}]
timesteps: [1, 5, 10, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 220, 240, 260, 280, 300,
            320, 340]
layers: [fc1, fc2, output]
inputs: [clean, noisy]
noise_draws: 4
probes: [{kind: ridge}]
metrics: [accuracy, csnr]
compute: {executor: EXECUTOR}
"""

SPEC = """spec_version: 1
name: bench-executors
model:
  kind: diffusion
  network: {kind: unet, channels: 48, mult: [1, 2]}
  precond: {kind: edm}
  train: {data: digits, steps: 5, batch_size: 64}
datasets: [{kind: digits, name: digits}]
sigma: {start: 0.002, stop: 5, num: 24}
layers: [enc.0, enc.1, mid, dec.0]
inputs: [clean, noisy]
noise_draws: 2
probes: [{kind: ridge}]
metrics: [accuracy, csnr]
compute: {executor: EXECUTOR}
"""


def main() -> None:
    import reprdyn
    from reprdyn.runner import train
    from reprdyn.spec import validate_text

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--spec", choices=["unet", "mlp"], default="unet")
    args = ap.parse_args()
    text = SPEC if args.spec == "unet" else MLP_SPEC
    tmp = tempfile.mkdtemp()
    os.environ["REPRDYN_CACHE"] = os.path.join(tmp, "cache")
    specs = {name: validate_text(text.replace("EXECUTOR", name)) for name in ("local", "dask")}
    train(specs["local"])  # both executors find this checkpoint in the cache
    times = {name: [] for name in specs}
    for r in range(args.repeats):
        for name, spec in specs.items():
            store = os.path.join(tmp, f"{name}-{r}.zarr")
            t = time.perf_counter()
            reprdyn.run(spec, store=store)
            times[name].append(time.perf_counter() - t)
            shutil.rmtree(store)
    med = {k: statistics.median(v) for k, v in times.items()}
    n_tasks = len(reprdyn.plan.plan(specs["local"]))
    print(f"tasks per run: {n_tasks}; repeats: {args.repeats}; cores: {os.cpu_count()}")
    for k, v in med.items():
        print(f"  {k:6s} median {v:7.2f} s   (all: {', '.join(f'{x:.2f}' for x in times[k])})")
    print(
        f"throughput ratio dask(2 workers)/local: {med['local'] / med['dask']:.2f}x  (target >= "
        "1.5x)"
    )
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
