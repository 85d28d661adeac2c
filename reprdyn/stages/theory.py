"""Stage `theory`: the closed-form CSNR of a MoLRG dataset's optimal posterior (docs/theory.md
§5)."""

from __future__ import annotations

from .base import NoParams, Stage, Task, Variable, base, key, labelled

STAGE = Stage.THEORY
CHUNKS: dict[str, int] = {}
Params = NoParams
VARIABLES = {
    "csnr_theory": Variable(
        ("sigma",),
        STAGE,
        ("csnr_theory",),
        "closed-form CSNR of the optimal posterior (docs/theory.md §5)",
        per_model=False,
        long_name="class-specific SNR, closed form",
    ),
}


def plan(spec, upstream) -> list[Task]:
    if "csnr_theory" not in spec.metrics:
        return []
    return [
        Task(STAGE, ds.name, NoParams(), key("theory", *base(spec, ds), spec.sigmas), (data.key,))
        for ds in spec.datasets
        for data in upstream.of(Stage.DATA, ds.name)
    ]


def run(task: Task, ctx, io) -> None:
    from ..maths.csnr import csnr_theory

    m = ctx.data.get(task.dataset).meta
    values = csnr_theory(ctx.spec.sigmas, int(m["K"]), int(m["d"]), float(m["delta"]))
    io.write(
        task.dataset, labelled(ctx.spec, VARIABLES, {"csnr_theory": values}, sigma=ctx.spec.sigmas)
    )
