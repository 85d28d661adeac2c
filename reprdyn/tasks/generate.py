"""Stage `generate`: samples from a model with its own sampler, scored against the data it learned
from (the generalisation score of appendix A.2: the share of samples that are not near-copies)."""

from __future__ import annotations

import logging

import numpy as np

from .. import cube, store
from ..caches import Context
from ..metrics.generalization import UNLEARNED, generalization_score, sample_distance_ratio
from ..plan import Task
from ..sample import generate, sampler_for
from ..seeds import derive_seed
from ..spec.kinds import TRAINABLE

log = logging.getLogger("reprdyn")


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
    # real samples the model never saw: a seeded subset of the probed test split, as many as
    # were generated
    test = x_ref[ctx.data.get(task.dataset).split == "test"]
    rng = np.random.default_rng(derive_seed(spec.seed, gen.seed, "held-out", task.dataset))
    held_out = test[np.sort(rng.permutation(len(test))[: gen.samples])]
    ratio = sample_distance_ratio(samples, train, held_out)
    if ratio > UNLEARNED:
        log.warning(
            "%s: generated samples lie %.1fx farther from the training set than real held-out "
            "samples; the model has not learned the data, so its generalization score (%.2f) only "
            "says that noise copies nothing",
            task.label,
            ratio,
            score,
        )
    lead = (1,) * len(cube.model_dims(spec))
    values = {"generalization": np.full(lead, score), "sample_distance_ratio": np.full(lead, ratio)}
    part = cube.labelled(spec, values, **cube.model_sel(spec, model, r))
    store.write_region(ctx.path, store.group(task.dataset, "metrics"), part)
