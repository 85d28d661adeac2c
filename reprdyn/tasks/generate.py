"""Stage `generate`: samples from a model with its own sampler, scored against the data it learned
from (the generalisation score of appendix A.2: the share of samples that are not near-copies)."""

from __future__ import annotations

import numpy as np

from .. import cube, store
from ..caches import Context
from ..metrics.generalization import generalization_score
from ..models.kinds import TRAINABLE
from ..plan import Task
from ..sample import generate, sampler_for
from ..seeds import derive_seed


def run(task: Task, ctx: Context) -> None:
    spec, gen = ctx.spec, ctx.spec.generation
    model, r = task.param("model"), task.param("replicate")
    cfg = ctx.models.cfg(model)
    net = ctx.models.denoiser(model, task.dataset, 0, r)
    x_ref = ctx.models.inputs(model, task.dataset)
    if cfg.kind in TRAINABLE:
        train = ctx.data.train_split(cfg).x  # what the model saw
    else:
        train = x_ref[ctx.data.get(task.dataset).split == "train"]
    sigmas, sampler = sampler_for(net, cfg, gen.steps, gen.sampler)
    samples = generate(
        net,
        tuple(x_ref.shape[1:]),
        gen.samples,
        sigmas,
        sampler,
        derive_seed(spec.seed, gen.seed, "generate", model),  # the same noise for every replicate
        gen.batch_size,
        ctx.device,
    )
    score = generalization_score(samples, train, gen.threshold)
    lead = (1,) * len(cube.model_dims(spec))
    part = cube.labelled(
        spec, {"generalization": np.full(lead, score)}, **cube.model_sel(spec, model, r)
    )
    store.write_region(ctx.path, store.group(task.dataset, "metrics"), part)
