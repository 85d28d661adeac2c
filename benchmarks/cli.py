"""How fast the command line answers: process wall time of each command, median of N runs, next to
its target.

    python benchmarks/cli.py [--repeats 5]

Runs `specs/molrg-theory.yaml` once into a temporary store to have something to
query. The ratio column is time / target (below 1 meets it). The baseline is
`python -c pass`, measured in the same run, since process start-up sets a floor.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]


def wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    exe = shutil.which("reprdyn", path=str(Path(sys.executable).parent)) or "reprdyn"
    tmp = Path(tempfile.mkdtemp())
    store = str(tmp / "theory.zarr")
    subprocess.run(
        [exe, "run", "specs/molrg-theory.yaml", "--store", store],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    cases = [
        ("python -c pass (start-up floor)", [sys.executable, "-c", "pass"], None),
        ("reprdyn --help", [exe, "--help"], 0.5),
        ("reprdyn schema", [exe, "schema"], 0.5),
        (
            "reprdyn query STORE accuracy --format csv",
            [exe, "query", store, "accuracy", "--format", "csv"],
            1.0,
        ),
        ("reprdyn ls STORE", [exe, "ls", store], 1.0),
        ("reprdyn status STORE", [exe, "status", store], 1.0),
        ("reprdyn spec STORE", [exe, "spec", store], 1.0),
        ("reprdyn diff STORE STORE", [exe, "diff", store, store], 1.0),
        (
            "reprdyn validate specs/molrg-theory.yaml",
            [exe, "validate", "specs/molrg-theory.yaml"],
            None,
        ),
    ]
    print(f"{'command':48} {'median':>8} {'target':>8} {'ratio':>6}")
    for name, cmd, target in cases:
        wall(cmd)  # warm the file cache
        t = statistics.median(wall(cmd) for _ in range(args.repeats))
        ratio = f"{t / target:6.2f}" if target else ""
        print(f"{name:48} {t:7.3f}s {f'{target:.1f}s' if target else '-':>8} {ratio:>6}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
