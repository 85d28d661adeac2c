"""Stage `generate`: the metrics that sample from a model replicate with its own sampler (the
generalisation score of appendix A.2, `reprdyn.metrics.generalization`); a DAE cannot generate."""

from __future__ import annotations

from dataclasses import dataclass

from .. import metrics
from ..spec.kinds import replicates
from .base import Cell, Stage, Task, base, computed, key, labelled, model_sel
from .train import checkpoint_for

STAGE = Stage.GENERATE
CHUNKS = {"model": 1, "replicate": 1}
# What a generate task hands its metrics: the task (one model replicate) and the run's
# context; each metric samples with the model's own sampler.
# Its fields: task, ctx, params (a `base.Cell`).


@dataclass(frozen=True)
class Params:
    model: str
    replicate: int


def plan(spec, upstream) -> list[Task]:
    """One task per (dataset, model, replicate); a DAE cannot generate (its score stays NaN)."""
    asked = metrics.at(spec, STAGE)
    if not asked:
        return []
    out = []
    for ds in spec.datasets:
        (data,) = upstream.of(Stage.DATA, ds.name)
        for name, cfg in spec.model_items():
            if cfg.kind == "dae":
                continue
            for r in range(replicates(cfg)):
                ckpt = checkpoint_for(upstream, name, r, 0)
                deps = (data.key,) + ((ckpt.key,) if ckpt else ())
                k = key(
                    "generate",
                    *base(spec, ds),
                    cfg.model_dump(mode="json"),
                    r,
                    [(m.name, m.protocol(spec) if m.protocol else None) for m in asked],
                    deps,
                )
                out.append(Task(STAGE, ds.name, Params(name, r), k, deps))
    return out


def run(task: Task, ctx, io) -> None:
    spec, p = ctx.spec, task.params
    values = computed(spec, STAGE, Cell(task=task, ctx=ctx, params=p))
    io.write(task.dataset, labelled(spec, STAGE, values, **model_sel(spec, p.model, p.replicate)))
