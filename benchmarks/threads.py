"""Torch thread count against wall time, on an idle and on a busy machine: the basis of
`compute.threads`.

    python benchmarks/threads.py [--repeats 2] [--busy 2]

Three jobs, each in a fresh process, at 1 and at 2 torch threads:
- `adam`: 200 Adam steps of a tiny MLP (the case a new user hit: small work, big thread pool);
- `theory`: the README's main job, `reprdyn run specs/molrg-theory.yaml`;
- `unet`: `specs/digits-unet.yaml` cut to 10 training epochs, one probe and no label noise
  (training, extraction and probes of a small U-Net).
"Busy" runs the same jobs while `--busy` other processes spin on the CPU (a shared machine). The
ratio column is time at 2 threads over time at 1 thread, measured in the same run (above 1: one
thread is faster).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
ADAM = """
import time, torch
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Linear(64, 3))
opt = torch.optim.Adam(net.parameters(), 1e-3)
x, y = torch.randn(256, 20), torch.randint(0, 3, (256,))
for _ in range(200):
    loss = torch.nn.functional.cross_entropy(net(x), y)
    opt.zero_grad(); loss.backward(); opt.step()
"""
UNET_SET = [
    "model.train.epochs=10",
    "label_noise=[0.0]",
    "seeds=[0]",
    "inputs=[clean]",
    "probes=[{kind: ridge}]",
    "metrics=[accuracy, csnr]",
]


def spin(stop) -> None:
    while not stop.is_set():
        pass


def job(name: str, threads: int, tmp: Path) -> list[str]:
    exe = [sys.executable, "-m", "reprdyn", "run"]
    store = str(tmp / f"{name}-{threads}-{time.monotonic_ns()}.zarr")
    if name == "adam":
        return [sys.executable, "-c", f"import torch; torch.set_num_threads({threads})\n{ADAM}"]
    if name == "theory":
        return [
            *exe,
            "specs/molrg-theory.yaml",
            "--store",
            store,
            "--set",
            f"compute.threads={threads}",
        ]
    sets = [a for s in UNET_SET + [f"compute.threads={threads}"] for a in ("--set", s)]
    return [*exe, "specs/digits-unet.yaml", "--store", store, *sets]


def wall(cmd: list[str], tmp: Path) -> float:
    # train every time
    env = {**os.environ, "REPRDYN_CACHE": str(tmp / f"cache-{time.monotonic_ns()}")}
    t = time.perf_counter()
    subprocess.run(
        cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - t


def measure(repeats: int, tmp: Path) -> dict[tuple[str, int], float]:
    out = {}
    for name in ("adam", "theory", "unet"):
        for threads in (1, 2):
            out[name, threads] = statistics.median(
                wall(job(name, threads, tmp), tmp) for _ in range(repeats)
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--busy", type=int, default=2, help="spinning processes for the busy runs")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    results = {"idle": measure(args.repeats, tmp)}
    stop = mp.Event()
    spinners = [mp.Process(target=spin, args=(stop,)) for _ in range(args.busy)]
    for p in spinners:
        p.start()
    try:
        results[f"busy ({args.busy} spinning processes)"] = measure(args.repeats, tmp)
    finally:
        stop.set()
        for p in spinners:
            p.join()
    print(f"{'machine':32} {'job':8} {'1 thread':>10} {'2 threads':>10} {'2 / 1':>7}")
    for machine, r in results.items():
        for name in ("adam", "theory", "unet"):
            one, two = r[name, 1], r[name, 2]
            print(f"{machine:32} {name:8} {one:9.2f}s {two:9.2f}s {two / one:7.2f}")


if __name__ == "__main__":
    main()
