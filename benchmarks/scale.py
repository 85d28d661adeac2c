"""Cost against data size: `specs/molrg-theory.yaml` at growing n_train, and where the time goes.

    python benchmarks/scale.py [--sizes 3000 30000 300000] [--threads 1]

Each size runs in a fresh process, which reports its wall time, its peak resident memory, the time
spent in each task stage, and the logistic probe's L-BFGS work (iterations and function
evaluations per problem). The ratios compare each size with the previous one: the goal is at most
12x the time and no more than 10x the memory for 10x the data.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reprdyn.runner import Hooks, RunOptions

ROOT = Path(__file__).parents[1]


def one(n_train: int, store: str, threads: int) -> dict:
    """Run the theory spec at `n_train` here; return timings, memory and L-BFGS counts."""
    import reprdyn
    import reprdyn.probes.logistic as logistic

    counts = {"iterations": [], "evaluations": 0}
    real = logistic.lbfgs

    def counted(fun, x, *args, **kwargs):
        def fun_counted(z):
            counts["evaluations"] += 1
            return fun(z)

        out, iters = real(fun_counted, x, *args, **kwargs)
        counts["iterations"] += iters.tolist()
        return out, iters

    logistic.lbfgs = counted
    spec = reprdyn.load_spec(
        ROOT / "specs/molrg-theory.yaml",
        [f"datasets[0].n_train={n_train}", f"compute.threads={threads}"],
    )
    stages: dict[str, float] = {}
    started: dict[str, float] = {}

    def start(task):
        started[task.key] = time.perf_counter()

    def done(task):
        stages[task.stage] = stages.get(task.stage, 0.0) + time.perf_counter() - started[task.key]

    t = time.perf_counter()
    reprdyn.run(spec, store=store, options=RunOptions(hooks=Hooks(start=start, done=done)))
    wall = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    return {"n_train": n_train, "wall": wall, "peak_bytes": peak, "stages": stages, **counts}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[3000, 30000, 300000])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--one", nargs=2, metavar=("N_TRAIN", "STORE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(int(args.one[0]), args.one[1], args.threads)))
        return
    tmp = Path(tempfile.mkdtemp())
    rows = []
    for n in args.sizes:
        cmd = [
            sys.executable,
            __file__,
            "--one",
            str(n),
            str(tmp / f"s{n}.zarr"),
            "--threads",
            str(args.threads),
        ]
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    print(f"theory spec, {args.threads} thread(s); n_test 2,000 and 16 sigmas throughout")
    print(
        f"{'n_train':>8} {'wall':>8} {'x time':>7} {'peak RSS':>9} {'x mem':>6}  stages (s)  | "
        "L-BFGS iterations per problem (mean, max), evaluations"
    )
    prev = None
    for r in rows:
        ratio = (
            f"{r['wall'] / prev['wall']:6.1f}x {r['peak_bytes'] / 2**30:8.2f}G "
            f"{r['peak_bytes'] / prev['peak_bytes']:5.1f}x"
            if prev
            else f"{'':7} {r['peak_bytes'] / 2**30:8.2f}G {'':6}"
        )
        stages = ", ".join(
            f"{k} {v:.1f}" for k, v in sorted(r["stages"].items(), key=lambda kv: -kv[1])
        )
        its = r["iterations"]
        print(
            f"{r['n_train']:8,} {r['wall']:7.1f}s {ratio}  {stages}  | {sum(its) / len(its):.0f}, "
            f"{max(its)}, {r['evaluations']}"
        )
        prev = r


if __name__ == "__main__":
    main()
