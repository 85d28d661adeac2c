"""Stage `theory`: what a metric computes from a dataset alone, with no model (the closed-form
CSNR of a MoLRG dataset's optimal posterior, docs/theory.md §5)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import metrics
from .base import NoParams, Stage, Task, base, computed, key, labelled, metric_variables

STAGE = Stage.THEORY
CHUNKS: dict[str, int] = {}
Params = NoParams
VARIABLES: dict = {}  # every variable of this stage is a metric's (`variables()`)


def variables() -> dict:
    return {**VARIABLES, **metric_variables(STAGE)}


@dataclass
class Cell:
    """What a theory task hands its metrics: the spec and one dataset."""

    spec: object
    data: object
    values: dict = field(default_factory=dict)


def plan(spec, upstream) -> list[Task]:
    asked = [m.name for m in metrics.at(spec, STAGE)]
    if not asked:
        return []
    return [
        Task(
            STAGE, ds.name, NoParams(), key("theory", *base(spec, ds), spec.sigmas, asked), (d.key,)
        )
        for ds in spec.datasets
        for d in upstream.of(Stage.DATA, ds.name)
    ]


def run(task: Task, ctx, io) -> None:
    values = computed(ctx.spec, STAGE, Cell(ctx.spec, ctx.data.get(task.dataset)))
    io.write(task.dataset, labelled(ctx.spec, variables(), values, sigma=ctx.spec.sigmas))
