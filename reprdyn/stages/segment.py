"""Stage `segment`: the metrics that fit segmentation probes on dense features of one model
replicate at one sigma (Figure 1b; mIoU, `reprdyn.metrics.miou`); this stage plans the tasks and
lays their arrays over (layer, label noise, seed, probe, input)."""

from __future__ import annotations

import numpy as np

from .. import metrics
from .base import BOUNDS, Cell, SigmaParams, Stage, Task, computed, labelled, model_dims, model_sel
from .features import per_sigma

STAGE = Stage.SEGMENT
CHUNKS = {"model": 1, "replicate": 1, "sigma": 1}
Params = SigmaParams
# What a segment task hands its metrics: the task (one model replicate at one sigma) and the
# run's context (models, data, device); each metric fits its own probes.
# Its fields: task, ctx (a `base.Cell`).


def plan(spec, upstream) -> list[Task]:
    """One task per (dataset, model, replicate, sigma)."""
    asked = [m.name for m in metrics.at(spec, STAGE)]
    if not asked:
        return []
    protocol = (
        asked,
        spec.dense,
        spec.inputs,
        spec.noise_draws,
        [p.model_dump(mode="json") for p in spec.probes if p.dense],
        spec.segmentation.model_dump(),
        spec.label_noise,
        spec.label_noise_kind,
        spec.seeds,
        spec.val_fraction,
        spec.analysis.bootstrap,
        spec.analysis.confidence,
        spec.analysis.seed,
    )
    return per_sigma(spec, upstream, STAGE, protocol)


def run(task: Task, ctx, io) -> None:
    values = computed(ctx.spec, STAGE, Cell(task=task, ctx=ctx))
    data = ctx.data.get(task.dataset)
    io.write(task.dataset, _region(ctx.spec, task.params, data, values))


def _region(spec, p: SigmaParams, data, values: dict[str, np.ndarray]):
    """The whole (model, replicate, sigma) chunk of every segmentation variable: NaN outside the
    dense sets and the segmentation probes."""

    lead = (None,) * (len(model_dims(spec)) + 1)  # singleton model, replicate, sigma dims
    P, R = len(spec.label_noise), len(spec.seeds)
    region = {}
    for name, v in values.items():
        # (layer, T, probe, input[, class]) -> (layer, P, R, probe, input[, class])
        region[name] = v.reshape(v.shape[0], P, R, *v.shape[2:])[lead]
    coords = {
        "sigma": [p.sigma],
        "layer": spec.cube_layers,
        "label_noise": spec.label_noise,
        "seed": spec.seeds,
        "probe": [q.label for q in spec.probes],
        "input": spec.inputs,
        "segment_class": data.mask_classes,
        **model_sel(spec, p.model, p.replicate),
    }
    if spec.bootstrap:
        coords["bound"], coords["boot"] = list(BOUNDS), np.arange(spec.bootstrap)
    return labelled(spec, STAGE, region, **coords)
