"""Wall time of each shipped offline spec from an empty checkpoint cache, and of the test suite:
the times the README quotes.

    python benchmarks/spec_times.py [--only molrg-theory ...] [--tests] [--keep DIR]

Each spec runs in a fresh process (`reprdyn run`) into a temporary store, with `REPRDYN_CACHE`
pointing at a new empty folder, so training (and rendering glyphs) is included; `--keep DIR` keeps
the stores there (to compare them with `reprdyn diff`). Run it on an idle
machine: the numbers are what a user waits, not a benchmark of reprdyn against anything.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
OFFLINE = (  # the shipped specs that need no download
    "molrg-theory",
    "molrg-mlp",
    "digits-unet",
    "glyphs-unet",
    "glyphs-segmentation",
    "mnist-unet",
    "dae-vs-diffusion",
    "memorization",
    "memorization-unet",
    "digits-probes",
    "cleandift",
)


def timed(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", default=OFFLINE)
    ap.add_argument("--tests", action="store_true", help="also time `python -m pytest -q`")
    ap.add_argument("--keep", type=Path, help="write the stores into this folder and keep them")
    args = ap.parse_args()
    import torch

    print(
        f"{platform.machine()} ({torch.backends.cpu.get_cpu_capability()}), {os.cpu_count()} "
        f"cores, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "REPRDYN_CACHE": str(Path(tmp) / "cache")}
        for name in args.only:
            store = (args.keep or Path(tmp)) / f"{name}.zarr"
            cmd = [sys.executable, "-m", "reprdyn", "run", f"specs/{name}.yaml"]
            cmd += ["--store", str(store)]
            print(f"  {name}: {timed(cmd, env):.0f} s", flush=True)
    if args.tests:
        seconds = timed([sys.executable, "-m", "pytest", "-q"], dict(os.environ))
        print(f"  test suite: {seconds:.0f} s")


if __name__ == "__main__":
    main()
