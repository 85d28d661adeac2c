"""Stage `generate`: samples from a model replicate with its own sampler, scored against the data
it learned from (the generalisation score of appendix A.2: the share of samples that are not
near-copies), beside how far the samples lie from the data at all."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..spec.kinds import TRAINABLE, replicates
from .base import Stage, Task, Variable, base, key, labelled, model_dims, model_sel
from .train import checkpoint_for

STAGE = Stage.GENERATE
CHUNKS = {"model": 1, "replicate": 1}
log = logging.getLogger("reprdyn")
VARIABLES = {
    "generalization": Variable(
        (),
        STAGE,
        ("generalization",),
        "share of generated samples that are not near-copies of a training sample (d1/d2 >= "
        "threshold)",
        long_name="generalization score",
    ),
    "sample_distance_ratio": Variable(
        (),
        STAGE,
        ("generalization",),
        "median distance of generated samples to their nearest training sample over that of real "
        "held-out samples: near or below 1, samples lie among the data; above 2, the model has not "
        "learned it and `generalization` is not meaningful",
        long_name="generated-to-held-out nearest-neighbour distance ratio",
    ),
}


@dataclass(frozen=True)
class Params:
    model: str
    replicate: int


def plan(spec, upstream) -> list[Task]:
    """One task per (dataset, model, replicate); a DAE cannot generate (its score stays NaN)."""
    if "generalization" not in spec.metrics:
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
                    spec.generation.model_dump(),
                    deps,
                )
                out.append(Task(STAGE, ds.name, Params(name, r), k, deps))
    return out


def run(task: Task, ctx, io) -> None:
    from ..compute.sample import generate, sampler_for
    from ..maths.generalization import UNLEARNED, generalization_score, sample_distance_ratio
    from ..seeds import derive_seed

    spec, gen, p = ctx.spec, ctx.spec.generation, task.params
    cfg = ctx.models.cfg(p.model)
    net = ctx.models.denoiser(p.model, task.dataset, 0, p.replicate)
    x_ref = ctx.models.inputs(p.model, task.dataset)
    split = ctx.data.get(task.dataset).split
    train = ctx.data.train_split(cfg).x if cfg.kind in TRAINABLE else x_ref[split == "train"]
    sigmas, sampler = sampler_for(net, cfg, gen.steps, gen.sampler)
    seed = derive_seed(spec.seed, gen.seed, "generate", p.model)  # the same for every replicate
    shape = tuple(x_ref.shape[1:])
    samples = generate(net, shape, gen.samples, sigmas, sampler, seed, gen.batch_size, ctx.device)
    score = generalization_score(samples, train, gen.threshold)
    # real samples the model never saw: a seeded subset of the probed test split, as many as
    # were generated
    test = x_ref[split == "test"]
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
    lead = (1,) * len(model_dims(spec))
    values = {"generalization": np.full(lead, score), "sample_distance_ratio": np.full(lead, ratio)}
    io.write(
        task.dataset, labelled(spec, VARIABLES, values, **model_sel(spec, p.model, p.replicate))
    )
