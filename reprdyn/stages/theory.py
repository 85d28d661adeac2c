"""Stage `theory`: what a metric computes from a dataset alone, with no model (the closed-form
CSNR of a MoLRG dataset's optimal posterior, docs/theory.md §5)."""

from __future__ import annotations

from .. import metrics
from .base import Cell, NoParams, Stage, Task, base, computed, key, labelled

STAGE = Stage.THEORY
CHUNKS: dict[str, int] = {}
Params = NoParams
# What a theory task hands its metrics: the spec and one dataset.
# Its fields: spec, data (a `base.Cell`).


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
    values = computed(ctx.spec, STAGE, Cell(spec=ctx.spec, data=ctx.data.get(task.dataset)))
    io.write(task.dataset, labelled(ctx.spec, STAGE, values, sigma=ctx.spec.sigmas))
