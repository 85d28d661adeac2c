"""Stages: the units of a run, one module each, folded over in `ORDER` by the plan.

    train -> data -> features (per sigma) -> theory, probe, joint -> compare, analysis, generate
                  -> segment (per sigma)

Every stage module declares its `STAGE`, the `CHUNKS` it owns, the `VARIABLES` it writes, its
tasks' `Params`, `plan(spec, upstream)` and `run(task, ctx, io)` (see `stages.base`). A stage
runs the metrics registered for it (`reprdyn.metrics`) and writes what they return; the cube's
variables and chunks, and the task list, derive from these declarations and that registry.
"""

from __future__ import annotations

from types import ModuleType

from . import analysis, compare, data, features, generate, joint, probe, segment, theory, train
from .base import Stage, Task

# the stages in the order their tasks are planned (each only depends on earlier ones)
ORDER: tuple[ModuleType, ...] = (
    train,
    data,
    features,
    theory,
    probe,
    joint,
    compare,
    analysis,
    segment,
    generate,
)
STAGES: dict[Stage, ModuleType] = {m.STAGE: m for m in ORDER}
assert set(STAGES) == set(Stage), "every Stage has its module"


def run_task(task: Task, ctx, io) -> None:
    """Run one task, at the spec's torch thread count (set per task: no other code's setting
    leaks in)."""
    from ..compute.device import use_threads

    use_threads(ctx.spec.compute.threads)
    STAGES[Stage(task.stage)].run(task, ctx, io)


__all__ = ["Stage", "Task", "ORDER", "STAGES", "run_task"]
