"""Stage `train`: make sure a checkpoint exists (trained now, or found in the cache)."""

from __future__ import annotations

from ..caches import Context
from ..plan import Task


def run(task: Task, ctx: Context) -> None:
    ctx.models.denoiser(
        task.param("model"),
        task.dataset,
        task.param("variant", 0),
        task.param("replicate", 0),
        label=task.label,
    )
