"""Metric `generalization`: samples from a model replicate with its own sampler, scored against
the data it learned from — the share of samples that are not near-copies (appendix A.2; Zhang et
al. 2023) — beside how far the samples lie from the data at all."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from .base import Figure, Metric, Settings, Stage, Variable

if TYPE_CHECKING:  # annotations only: drawing imports matplotlib when it draws
    import matplotlib.pyplot as plt
    import xarray as xr

log = logging.getLogger("reprdyn")


class Generation(Settings):
    """Sampling for the generalisation score (appendix A.2; Zhang et al. 2023)."""

    samples: int = Field(256, gt=0, le=1_000_000, description="generated samples")
    steps: int = Field(32, ge=2, le=10_000, description="sampler steps")
    sampler: Literal["auto", "heun", "ddim"] = Field(
        "auto", description="auto: ddim for vp models, heun otherwise"
    )
    threshold: float = Field(
        1 / 3, gt=0, lt=1, description="a sample is a near-copy when d1/d2 < threshold"
    )
    batch_size: int = Field(256, gt=0, le=1_000_000)
    seed: int = 0


VARIABLES = {
    "generalization": Variable(
        (),
        "share of generated samples that are not near-copies of a training sample (d1/d2 >= "
        "threshold)",
        long_name="generalization score",
    ),
    "sample_distance_ratio": Variable(
        (),
        "median distance of generated samples to their nearest training sample over that of real "
        "held-out samples: near or below 1, samples lie among the data; above 2, the model has not "
        "learned it and `generalization` is not meaningful",
        long_name="generated-to-held-out nearest-neighbour distance ratio",
    ),
}


def compute(cell) -> dict:
    """Generate from the cell's model replicate and score the samples."""
    from ..compute.sample import generate, sampler_for
    from ..maths.generalization import UNLEARNED, generalization_score, sample_distance_ratio
    from ..seeds import derive_seed
    from ..spec.kinds import TRAINABLE

    ctx, task, p = cell.ctx, cell.task, cell.params
    spec, gen = ctx.spec, ctx.spec.generation
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
    return {"generalization": np.float64(score), "sample_distance_ratio": np.float64(ratio)}


def rules(spec):
    if "generalization" not in spec.metrics:
        return
    kinds = [cfg.kind for _, cfg in spec.model_items()]
    if kinds and all(k == "dae" for k in kinds):
        yield (
            ("metrics",),
            (
                "generalization samples from a diffusion model; a DAE denoises at its own sigmas "
                "only, so it cannot generate"
            ),
        )


def annotate(ds, spec, context) -> None:
    if "generalization" in ds:
        ds["generalization"].attrs["threshold"] = spec.generation.threshold


def figure(ds: xr.Dataset, dataset: str, sweep: list[str]) -> plt.Figure:
    import matplotlib.pyplot as plt

    from ..plot import style

    if not sweep:
        raise style.FigureError(
            "figure 'generalization' needs a sweep store (a spec with `sweep:`, such as "
            "specs/memorization.yaml)"
        )
    score = style.need(ds, "generalization", "generalization").mean("replicate").load()
    dim = sweep[0]
    acc = style.lowest_of(ds, "accuracy", "generalization")
    acc = acc.mean(style.fits(acc))
    first = {d: acc[d].values[0] for d in ("model", "input")}
    layer, probe = next(
        (lay, p)
        for lay in acc.layer.values
        for p in acc.probe.values
        if np.isfinite(acc.sel(layer=lay, probe=p, **first).values).any()
    )
    fig, (a1, a2) = style.panels(2, cols=2, panel=(4.2, 2.6))
    values = acc[dim].values
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(values)))
    for c, v in zip(colours, values):
        curve = acc.sel({dim: v, "layer": layer, "probe": probe, **first})
        curve = curve.isel({d: 0 for d in curve.dims if d != "sigma"})
        a1.plot(curve.sigma.values, curve.values, marker="o", color=c, label=f"{dim}={v}")
    style.sigma_axis(a1, acc.sigma.values)
    a1.set_ylabel("test accuracy")
    a1.set_title(f"{dataset}: {layer}, probe {probe}")
    style.legend(a1)
    s = score.isel({d: 0 for d in score.dims if d != dim})
    a2.plot(s[dim].values, s.values, marker="o", color="k")
    numeric = np.issubdtype(s[dim].dtype, np.number)
    if numeric and (s[dim].values > 0).all() and s[dim].values.max() / s[dim].values.min() > 10:
        a2.set_xscale("log")
    a2.set_ylim(-0.05, 1.05)
    a2.set_xlabel(dim)
    a2.set_ylabel("generalisation score")
    a2.set_title("share of generated samples that are not copies")
    return fig


METRIC = Metric(
    name="generalization",
    stage=Stage.GENERATE,
    about="share of generated samples that are not near-copies of the training data (appendix A.2)",
    variables=VARIABLES,
    compute=compute,
    settings=("generation", Generation),
    rules=rules,
    annotate=annotate,
    figures=(
        Figure(
            "generalization",
            "accuracy curves per sweep value, and the generalisation score (appendix A.2)",
            figure,
            at_lowest_noise=True,
        ),
    ),
    protocol=lambda spec: spec.generation.model_dump(),
    order=90,
)
