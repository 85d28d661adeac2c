"""Benchmark: what the paired bootstrap (analysis.bootstrap = B resamples) costs against the probe
stage it runs in, measured in the same run.

    python benchmarks/bootstrap.py [--spec specs/molrg-theory.yaml ...] [--set PATH=VALUE ...]

Each spec is run once into a temporary store (training, if any, from the checkpoint cache). Its
probe (and segment) tasks are then timed with the bootstrap's own functions wrapped: the time
inside them against the rest of each task. Prints, per spec and stage, the stage's time without
the bootstrap, the bootstrap's time, and their ratio (target: under 10%).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import reprdyn
import reprdyn.probes.dense_protocol as segment_stage
import reprdyn.probes.protocol as probe_stage
from reprdyn.maths.uncertainty import resample_counts
from reprdyn.plan import plan
from reprdyn.runner.context import Context, use_threads
from reprdyn.stages import run_task
from reprdyn.store import StoreIO

SPECS = ("specs/molrg-theory.yaml", "specs/digits-unet.yaml")


def _timed(module, name: str, bucket: list[float]):
    real = getattr(module, name)

    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            bucket.append(time.perf_counter() - t)

    setattr(module, name, wrapper)
    return real


def measure(spec_file: str, overrides: list[str]) -> dict[str, tuple[float, float]]:
    """{stage: (seconds in the stage without the bootstrap, seconds in the bootstrap)}."""
    spec = reprdyn.load_spec(spec_file, overrides)
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "s.zarr"
        reprdyn.run(spec, store=store)  # features and checkpoints in place
        ctx = Context.create(spec, str(store))
        use_threads(spec.compute.threads)
        resample_counts.cache_clear()  # the timed tasks draw their resamples, as a run does
        boot: list[float] = []
        real = _timed(probe_stage, "resampled", boot)
        real_miou = _timed(segment_stage, "resampled_miou", boot)
        out: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        try:
            for task in plan(spec):
                if task.stage not in ("probe", "segment"):
                    continue
                before = len(boot)
                t = time.perf_counter()
                run_task(task, ctx, StoreIO(store))
                total = time.perf_counter() - t
                spent = sum(boot[before:])
                out[task.stage][0] += total - spent
                out[task.stage][1] += spent
        finally:
            probe_stage.resampled = real
            segment_stage.resampled_miou = real_miou
    return {k: tuple(v) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", action="append", help="spec files (default: %(default)s)")
    ap.add_argument("--set", action="append", default=[], dest="overrides")
    args = ap.parse_args()
    for spec_file in args.spec or SPECS:
        for stage, (rest, boot) in measure(spec_file, args.overrides).items():
            print(
                f"{spec_file} {stage}: stage without the bootstrap {rest:.2f} s, bootstrap "
                f"{boot:.3f} s -> {boot / rest:.1%} of the stage (target < 10%)"
            )


if __name__ == "__main__":
    main()
