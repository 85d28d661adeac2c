"""Stage `train`: make sure each checkpoint a spec needs exists (trained now, or found in the
checkpoint cache): one per replicate of a diffusion model, one per replicate and noise-level set of
a DAE."""

from __future__ import annotations

from dataclasses import dataclass

from ..spec.kinds import TRAINABLE, dae_sigmas, replicates
from .base import Stage, Task, key

STAGE = Stage.TRAIN
CHUNKS: dict[str, int] = {}  # a checkpoint lives in the cache, not in the store
VARIABLES: dict = {}


@dataclass(frozen=True)
class Params:
    model: str
    replicate: int
    variant: int | None = None  # a DAE's noise-level set, by index
    train_sigma: tuple[float, ...] | None = None  # and its noise levels


def plan(spec, upstream) -> list[Task]:
    out = []
    for name, cfg in spec.model_items():
        if cfg.kind not in TRAINABLE:
            continue
        src = cfg.train.data
        data = next(d for d in spec.datasets if d.name == src) if isinstance(src, str) else src
        block = cfg.model_dump(mode="json")
        block["train"].pop("replicates")  # a replicate is its index, not the count beside it
        head = ("v2", spec.seed, block, data.model_dump(mode="json"))
        levels = dae_sigmas(cfg, spec.sigmas)
        for r in range(replicates(cfg)):
            for v, s in enumerate(levels if levels is not None else [None]):
                p = Params(name, r, v if levels is not None else None, tuple(s) if s else None)
                out.append(Task(STAGE, data.name, p, key("train", *head, r, s)))
    return out


def checkpoint_for(upstream, model: str, replicate: int, sigma_index: int) -> Task | None:
    """The train task whose checkpoint serves `model`'s replicate at grid point `sigma_index`
    (None: the model is not trained)."""
    mine = [t for t in upstream.of(STAGE) if t.params.model == model]
    variants = {t.params.variant for t in mine}
    want = sigma_index if len(variants) > 1 else next(iter(variants), None)
    return next(
        (t for t in mine if t.params.replicate == replicate and t.params.variant == want), None
    )


def run(task: Task, ctx, io) -> None:
    p = task.params
    ctx.models.denoiser(p.model, task.dataset, p.variant or 0, p.replicate, label=task.label)
