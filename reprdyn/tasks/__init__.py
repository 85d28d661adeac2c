"""Tasks: the function that computes each planned stage and writes its region of the store.

Each stage has its own module with one entry point, `run(task, ctx)`; executors
call `run_task`, which picks it from `STAGES`. A `Context` (`reprdyn.caches`)
holds the datasets and models a process has built, so each is built once per
process (per worker, on a cluster).

    train -> data -> features (per sigma) -> theory, probe -> compare, analysis, generate
                  -> segment (per sigma)
"""

from __future__ import annotations

from ..caches import Context, use_threads
from ..errors import lookup
from ..plan import Task
from . import analysis, compare, data, features, generate, probe, segment, theory, train

STAGES = {
    "train": train.run,
    "data": data.run,
    "features": features.run,
    "theory": theory.run,
    "probe": probe.run,
    "compare": compare.run,
    "analysis": analysis.run,
    "generate": generate.run,
    "segment": segment.run,
}


def run_task(task: Task, ctx: Context) -> None:
    use_threads(ctx.spec.compute.threads)  # per task: no other code's thread setting leaks in
    lookup(STAGES, task.stage, "task stage")(task, ctx)
