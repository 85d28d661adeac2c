"""Stage `theory`: the closed-form CSNR of a MoLRG dataset's optimal posterior (docs/theory.md
§5)."""

from __future__ import annotations

from .. import cube, store
from ..caches import Context
from ..metrics.csnr import csnr_theory
from ..plan import Task


def run(task: Task, ctx: Context) -> None:
    m = ctx.data.get(task.dataset).meta
    values = csnr_theory(ctx.spec.sigmas, int(m["K"]), int(m["d"]), float(m["delta"]))
    part = cube.labelled(ctx.spec, {"csnr_theory": values}, sigma=ctx.spec.sigmas)
    store.write_region(ctx.path, store.group(task.dataset, "metrics"), part)
